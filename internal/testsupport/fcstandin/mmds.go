package fcstandin

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// MMDS, as Firecracker v1.16.1 keeps it for the host (src/vmm/src/mmds/
// data_store.rs, rpc_interface.rs): a JSON value of at most mmdsLimit
// bytes, put whole (PUT /mmds) or merged (PATCH /mmds, RFC 7396, once
// put), and read back by GET /mmds ("{}" while it holds nothing). Before
// boot every MMDS call makes the data store; after boot a VM that never
// had one answers "not initialized". The guest reads it over its network
// and can never write it.

// mmdsLimit is Firecracker's default data store limit
// (--mmds-size-limit, else the API's payload limit, 51200).
const mmdsLimit = 51200

const (
	msgMMDSNotInitialized = "MMDS error: The MMDS data store is not initialized."
	msgMMDSLimit          = "MMDS limit exceeded error: The MMDS patch request doesn't fit."
)

// mmdsState is the VM's data store; made is whether it exists.
type mmdsState struct {
	made, initialized bool
	data              any // nil: JSON null
}

// SetMMDS puts data as PUT /mmds would (or --metadata at start).
func (v *VM) SetMMDS(data any) {
	v.mu.Lock()
	v.mmds = mmdsState{made: true, initialized: true, data: data}
	v.mu.Unlock()
}

func (v *VM) serveMMDS(w http.ResponseWriter, r *http.Request) {
	var body any
	if r.Method != "GET" {
		raw, err := io.ReadAll(io.LimitReader(r.Body, mmdsLimit+1))
		if err == nil {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			err = dec.Decode(&body)
		}
		if err != nil {
			fault(w, msgBadJSON+err.Error())
			return
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.mmds.made {
		if v.running {
			fault(w, msgMMDSNotInitialized)
			return
		}
		v.mmds.made = true // locked_mmds_or_default
	}
	switch r.Method {
	case "GET":
		if v.mmds.data == nil {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "{}")
			return
		}
		answer(w, v.mmds.data)
	case "PUT":
		if b, _ := json.Marshal(body); len(b) > mmdsLimit {
			tooLarge(w)
			return
		}
		v.mmds.data, v.mmds.initialized = body, true
		noContent(w)
	case "PATCH":
		if !v.mmds.initialized {
			fault(w, msgMMDSNotInitialized)
			return
		}
		next := mergePatch(v.mmds.data, body)
		if b, _ := json.Marshal(next); len(b) > mmdsLimit {
			tooLarge(w)
			return
		}
		v.mmds.data = next
		noContent(w)
	}
}

func tooLarge(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	json.NewEncoder(w).Encode(map[string]string{"fault_message": msgMMDSLimit})
}

// mergePatch applies patch to target as mmds::json_patch does (RFC 7396).
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, val := range p {
		if val == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], val)
	}
	return t
}
