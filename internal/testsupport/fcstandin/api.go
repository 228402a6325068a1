package fcstandin

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// serveAPI answers Firecracker's API on the API socket.
func (v *VM) serveAPI() {
	srv := &http.Server{Handler: http.HandlerFunc(v.handle), ReadHeaderTimeout: 5 * time.Second}
	go func() { <-v.closed; srv.Close() }()
	srv.Serve(v.api)
}

// fault answers as Firecracker does for a request it refuses.
func fault(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"fault_message": msg})
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(v)
}

func (v *VM) handle(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path
	switch key {
	case "GET /":
		answer(w, v.instanceInfo())
	case "GET /vm/config":
		answer(w, v.vmConfig())
	case "GET /machine-config":
		answer(w, v.cfg.MachineConfig)
	case "GET /balloon":
		if v.cfg.Balloon == nil {
			fault(w, 400, "Balloon device not active.")
			return
		}
		answer(w, v.cfg.Balloon)
	case "GET /balloon/statistics":
		v.balloonStats(w)
	case "PUT /actions":
		v.action(w, r)
	case "PUT /metrics":
		v.putMetrics(w, r)
	default:
		fault(w, 400, "Invalid request method and/or path: "+r.Method+" "+r.URL.Path+".")
	}
}

func (v *VM) instanceInfo() map[string]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	state := "Not started"
	if v.running {
		state = "Running"
	}
	return map[string]string{"id": v.cfg.ID, "state": state, "vmm_version": VMMVersion, "app_name": "Firecracker"}
}

// vmConfig is GET /vm/config's answer: every section Firecracker writes,
// null where the VM has none.
func (v *VM) vmConfig() map[string]any {
	net := v.cfg.Network
	if net == nil {
		net = []NetworkInterface{}
	}
	drives := v.cfg.Drives
	if drives == nil {
		drives = []Drive{}
	}
	return map[string]any{
		"balloon":            v.cfg.Balloon,
		"drives":             drives,
		"boot-source":        map[string]any{"kernel_image_path": "/vmlinux", "initrd_path": nil, "boot_args": "console=ttyS0"},
		"cpu-config":         nil,
		"logger":             nil,
		"machine-config":     map[string]any{"vcpu_count": v.cfg.MachineConfig.VCPUCount, "mem_size_mib": v.cfg.MachineConfig.MemSizeMiB, "smt": false, "track_dirty_pages": false, "huge_pages": "None"},
		"metrics":            v.cfg.Metrics,
		"mmds-config":        nil,
		"network-interfaces": net,
		"vsock":              v.cfg.Vsock,
		"entropy":            nil,
	}
}

func (v *VM) balloonStats(w http.ResponseWriter) {
	if v.cfg.Balloon == nil {
		fault(w, 400, "Balloon device not active.")
		return
	}
	if v.cfg.Balloon.StatsPollingIntervalS == 0 {
		fault(w, 400, "Statistics for the balloon device are not enabled")
		return
	}
	st := BalloonStats{TargetMiB: uint64(v.cfg.Balloon.AmountMiB), ActualMiB: uint64(v.cfg.Balloon.AmountMiB)}
	st.TargetPages, st.ActualPages = st.TargetMiB*256, st.ActualMiB*256
	if v.src.Balloon != nil {
		if s, ok := v.src.Balloon(); ok {
			s.TargetPages, s.ActualPages, s.TargetMiB, s.ActualMiB = st.TargetPages, st.ActualPages, st.TargetMiB, st.ActualMiB
			st = s
		}
	}
	answer(w, st)
}

func (v *VM) action(w http.ResponseWriter, r *http.Request) {
	var a struct {
		ActionType string `json:"action_type"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err := json.Unmarshal(body, &a); err != nil {
		fault(w, 400, "An error occurred when deserializing the json body of a request: "+err.Error()+".")
		return
	}
	v.mu.Lock()
	running := v.running
	v.mu.Unlock()
	switch a.ActionType {
	case "FlushMetrics":
		if !running {
			fault(w, 400, "The requested operation is not supported before starting the microVM.")
			return
		}
		if err := v.writeLine(); err != nil {
			fault(w, 400, "Failed to write metrics: "+err.Error())
			return
		}
	case "InstanceStart":
		if running {
			fault(w, 400, "The requested operation is not supported after starting the microVM.")
			return
		}
		v.mu.Lock()
		v.running = true
		v.mu.Unlock()
		v.openMetrics()
		v.writeLine() // Firecracker writes a line when the VM starts
	default:
		fault(w, 400, "Invalid action type: "+a.ActionType)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (v *VM) putMetrics(w http.ResponseWriter, r *http.Request) {
	var m Metrics
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err := json.Unmarshal(body, &m); err != nil || m.MetricsPath == "" {
		fault(w, 400, "An error occurred when deserializing the json body of a request: missing field `metrics_path`.")
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.running {
		fault(w, 400, "The requested operation is not supported after starting the microVM.")
		return
	}
	if v.cfg.Metrics != nil {
		fault(w, 400, "Reinitialization of metrics not allowed.")
		return
	}
	v.cfg.Metrics = &m
	w.WriteHeader(http.StatusNoContent)
}
