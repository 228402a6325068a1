package fcstandin

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// VCPUs runs n OS threads named "fc_vcpu 0" ... as Firecracker names its
// vCPU threads, each busy for the share of its time busy() returns (0 to
// 1) and asleep otherwise, until stop is closed. A thread can only be named
// from inside its own process, so the stand-in names its own.
func VCPUs(n int, busy func(i int) float64, stop <-chan struct{}) {
	for i := range n {
		go vcpu(i, busy, stop)
	}
}

func vcpu(i int, busy func(i int) float64, stop <-chan struct{}) {
	runtime.LockOSThread() // the name belongs to this thread: keep it ours
	if syscall.Gettid() == syscall.Getpid() {
		// The process's main thread, whose name is the process's comm
		// ("firecracker", what discovery looks for): it must keep it.
		// Hold it while a thread of its own runs the vCPU.
		go vcpu(i, busy, stop)
		<-stop
		runtime.UnlockOSThread()
		return
	}
	setThreadName("fc_vcpu " + strconv.Itoa(i))
	var sink atomic.Uint64
	for {
		select {
		case <-stop:
			return
		default:
		}
		share := 0.0
		if busy != nil {
			share = min(max(busy(i), 0), 1)
		}
		end := time.Now().Add(time.Duration(share * float64(10*time.Millisecond)))
		for time.Now().Before(end) {
			sink.Add(1)
		}
		time.Sleep(time.Duration((1 - share) * float64(10*time.Millisecond)))
	}
}

// setThreadName is prctl(PR_SET_NAME) on the calling thread.
func setThreadName(name string) {
	b := append([]byte(name), 0)
	syscall.Syscall6(syscall.SYS_PRCTL, syscall.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0, 0)
	runtime.KeepAlive(b)
}
