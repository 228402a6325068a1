package fcstandin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Firecracker's fault messages (firecracker-facts.json names their sources).
const (
	msgPreBoot        = "The requested operation is not supported before starting the microVM."
	msgPostBoot       = "The requested operation is not supported after starting the microVM."
	msgNoBalloon      = "Internal VMM error: Failed perform action on device: Device not found"
	msgNoBalloonPre   = "Balloon config error: No balloon device found."
	msgStatsDisabled  = "Internal VMM error: Balloon: Received stats query when stats are disabled."
	msgMetricsWrite   = "Internal VMM error: Metrics error: "
	msgMetricsInit    = "Metrics error: Cannot initialize the metrics system due to bad user input: "
	msgBadJSON        = "An error occurred when deserializing the json body of a request: "
	msgUnknownAction  = "An error occurred when deserializing the json body of a request: unknown variant `%s`"
	msgInvalidPathFmt = "Invalid request method and/or path: %s %s."
	msgVCPUCount      = "Machine config error: The number of vCPUs must be greater than 0, less than 32 and must be 1 or an even number if SMT is enabled."
	msgMemSize        = "Machine config error: The memory size (MiB) is either 0, or not a multiple of the configured page size."
)

// maxVCPUs is MAX_SUPPORTED_VCPUS (src/vmm/src/vmm_config/machine_config.rs:13).
const maxVCPUs = 32

// serveAPI answers Firecracker's API on the API socket.
func (v *VM) serveAPI() {
	srv := &http.Server{Handler: http.HandlerFunc(v.handle), ReadHeaderTimeout: 5 * time.Second}
	go func() { <-v.closed; srv.Close() }()
	srv.Serve(v.api)
}

// fault answers as Firecracker does for a request it refuses: 400 with
// {"fault_message": ...}.
func fault(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"fault_message": msg})
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(v)
}

func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

func (v *VM) handle(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case r.Method == "GET" && path == "/":
		answer(w, v.instanceInfo())
	case r.Method == "GET" && path == "/vm/config":
		v.mu.Lock()
		c := v.cfg.vmConfig()
		v.mu.Unlock()
		answer(w, c)
	case r.Method == "GET" && path == "/version":
		answer(w, map[string]string{"firecracker_version": VMMVersion})
	case r.Method == "GET" && path == "/machine-config":
		v.mu.Lock()
		mc := v.cfg.MachineConfig
		v.mu.Unlock()
		answer(w, mc)
	case r.Method == "GET" && path == "/balloon":
		v.getBalloon(w)
	case r.Method == "GET" && path == "/balloon/statistics":
		v.balloonStats(w)
	case r.Method == "PUT" && path == "/actions":
		v.action(w, r)
	case r.Method == "PUT" && path == "/metrics":
		v.putMetrics(w, r)
	case path == "/mmds" && (r.Method == "GET" || r.Method == "PUT" || r.Method == "PATCH"):
		v.serveMMDS(w, r)
	case r.Method == "PUT" && (path == "/machine-config" || path == "/boot-source" || path == "/balloon" || path == "/vsock" ||
		strings.HasPrefix(path, "/drives/") || strings.HasPrefix(path, "/network-interfaces/")):
		v.configure(w, r)
	default:
		fault(w, sprintf(msgInvalidPathFmt, r.Method, path))
	}
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

func (v *VM) instanceInfo() map[string]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	state := "Not started"
	if v.running {
		state = "Running"
	}
	return map[string]string{"id": v.cfg.ID, "state": state, "vmm_version": VMMVersion, "app_name": "Firecracker"}
}

// checkMetrics refuses what this Firecracker's MetricsConfig has no field
// for: v1.16.1 knows metrics_path only.
func (v *VM) checkMetrics(m Metrics) string {
	switch {
	case v.props:
		return ""
	case m.EmitID != nil:
		return "unknown field `emit_id`, expected `metrics_path`."
	case m.Properties != nil:
		return "unknown field `properties`, expected `metrics_path`."
	}
	return ""
}

// decode reads a JSON body into out, refusing unknown fields as
// Firecracker's serde(deny_unknown_fields) does.
func decode(r *http.Request, out any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 51200)) // Firecracker's default payload limit
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}

// configure applies one of the calls that build a microVM before boot
// (PUT /machine-config, /boot-source, /drives/{id}, /network-interfaces/{id},
// /vsock, /balloon), as launchers and firecracker-go-sdk make them.
func (v *VM) configure(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	running := v.running
	v.mu.Unlock()
	if running {
		fault(w, msgPostBoot)
		return
	}
	path := r.URL.Path
	var err error
	switch {
	case path == "/machine-config":
		var mc MachineConfig
		if err = decode(r, &mc); err == nil {
			if msg := mc.invalid(); msg != "" {
				fault(w, msg)
				return
			}
			v.mu.Lock()
			v.cfg.MachineConfig = mc
			v.cfg = v.cfg.normalized()
			v.mu.Unlock()
		}
	case path == "/boot-source":
		var bs BootSource
		if err = decode(r, &bs); err == nil {
			v.mu.Lock()
			v.cfg.BootSource = &bs
			v.mu.Unlock()
		}
	case path == "/balloon":
		var b Balloon
		if err = decode(r, &b); err == nil {
			v.mu.Lock()
			v.cfg.Balloon = &b
			v.mu.Unlock()
		}
	case path == "/vsock":
		var vs Vsock
		if err = decode(r, &vs); err == nil {
			err = v.addVsock(vs)
		}
	case strings.HasPrefix(path, "/drives/"):
		var d Drive
		if err = decode(r, &d); err == nil {
			v.mu.Lock()
			v.cfg.Drives = replaceByID(v.cfg.Drives, d, func(x Drive) string { return x.DriveID })
			v.cfg = v.cfg.normalized()
			v.mu.Unlock()
		}
	case strings.HasPrefix(path, "/network-interfaces/"):
		var n NetworkInterface
		if err = decode(r, &n); err == nil {
			v.mu.Lock()
			v.cfg.Network = replaceByID(v.cfg.Network, n, func(x NetworkInterface) string { return x.IfaceID })
			v.mu.Unlock()
		}
	}
	if err != nil {
		fault(w, msgBadJSON+err.Error()+".")
		return
	}
	noContent(w)
}

func replaceByID[T any](list []T, x T, id func(T) string) []T {
	for i := range list {
		if id(list[i]) == id(x) {
			list[i] = x
			return list
		}
	}
	return append(list, x)
}

// addVsock makes the vsock device: Firecracker binds its Unix socket when
// the device is configured.
func (v *VM) addVsock(vs Vsock) error {
	ln, err := net.Listen("unix", vs.UDSPath)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.muxer != nil {
		v.muxer.close()
	}
	v.cfg.Vsock = &vs
	v.muxer = newMuxer(ln, v.forward)
	v.wg.Go(v.muxer.serve)
	return nil
}

func (v *VM) getBalloon(w http.ResponseWriter) {
	v.mu.Lock()
	b, running := v.cfg.Balloon, v.running
	v.mu.Unlock()
	switch {
	case b == nil && running:
		fault(w, msgNoBalloon)
	case b == nil:
		fault(w, msgNoBalloonPre)
	default:
		answer(w, b)
	}
}

// balloonStats answers GET /balloon/statistics: after boot only, with a
// balloon whose statistics are on.
func (v *VM) balloonStats(w http.ResponseWriter) {
	v.mu.Lock()
	b, running := v.cfg.Balloon, v.running
	v.mu.Unlock()
	switch {
	case !running:
		fault(w, msgPreBoot)
		return
	case b == nil:
		fault(w, msgNoBalloon)
		return
	case b.StatsPollingIntervalS == 0:
		fault(w, msgStatsDisabled)
		return
	}
	st := BalloonStats{TargetMiB: uint32(b.AmountMiB), ActualMiB: uint32(b.AmountMiB)}
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
	if err := decode(r, &a); err != nil {
		fault(w, msgBadJSON+err.Error()+".")
		return
	}
	v.mu.Lock()
	running := v.running
	v.mu.Unlock()
	switch a.ActionType {
	case "FlushMetrics":
		if !running {
			fault(w, msgPreBoot)
			return
		}
		// A full FIFO fails the request at once; Firecracker does not
		// count it as a missed line (only its periodic writer does).
		if err := v.writeLine(); err != nil {
			fault(w, msgMetricsWrite+err.Error())
			return
		}
	case "InstanceStart":
		if running {
			fault(w, msgPostBoot)
			return
		}
		v.mu.Lock()
		v.running = true
		v.mu.Unlock()
		if err := v.boot(); err != nil {
			fault(w, "Start microvm error: "+err.Error())
			return
		}
	case "SendCtrlAltDel":
		if !running {
			fault(w, msgPreBoot)
			return
		}
	default:
		fault(w, sprintf(msgUnknownAction, a.ActionType)+", expected one of `FlushMetrics`, `InstanceStart`, `SendCtrlAltDel`.")
		return
	}
	noContent(w)
}

func (v *VM) putMetrics(w http.ResponseWriter, r *http.Request) {
	var m Metrics
	if err := decode(r, &m); err != nil || m.MetricsPath == "" {
		fault(w, msgBadJSON+"missing field `metrics_path`.")
		return
	}
	if msg := v.checkMetrics(m); msg != "" {
		fault(w, msgBadJSON+msg)
		return
	}
	v.mu.Lock()
	running, again := v.running, v.cfg.Metrics != nil
	if !running && !again {
		v.cfg.Metrics = &m
	}
	v.mu.Unlock()
	switch {
	case running:
		fault(w, msgPostBoot)
		return
	case again:
		fault(w, msgMetricsInit+"Reinitialization of metrics not allowed.")
		return
	}
	// Firecracker opens the output when it is configured (init_metrics).
	if err := v.openMetrics(); err != nil {
		v.mu.Lock()
		v.cfg.Metrics = nil
		v.mu.Unlock()
		fault(w, msgMetricsInit+err.Error())
		return
	}
	noContent(w)
}

// invalid is MachineConfig::update's refusal of mc (machine_config.rs:239):
// vCPUs from 1 to 32, 1 or even with SMT; memory above 0 and whole 2 MiB
// pages with 2M huge pages. "" when valid.
func (mc MachineConfig) invalid() string {
	switch {
	case mc.VCPUCount <= 0 || mc.VCPUCount > maxVCPUs, mc.SMT && mc.VCPUCount > 1 && mc.VCPUCount%2 == 1:
		return msgVCPUCount
	case mc.MemSizeMiB <= 0, mc.HugePages == "2M" && mc.MemSizeMiB%2 != 0:
		return msgMemSize
	}
	return ""
}
