package hostagent

import (
	"github.com/fcmon/fcmon/internal/hostagent/discovery"
	"github.com/fcmon/fcmon/internal/hostagent/firecracker"
	"github.com/fcmon/fcmon/internal/hostagent/poll"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// guestHeader is what every request to a guest agent carries.
func (a *Agent) guestHeader() []string {
	h := []string{"User-Agent: fcmon-host-agent"}
	if a.set.guestToken != "" {
		h = append(h, "Authorization: Bearer "+a.set.guestToken)
	}
	return h
}

// newPoller returns the poller of VM id (see poll.VM), f discovery's
// account (nil for an attached VM).
func (a *Agent) newPoller(id string, api *firecracker.Client, apiRoot *vmpath.Root, vsock vmpath.Path, guestAddr string, f *discovery.Found) *poll.Poller {
	vm := poll.VM{ID: id, API: api, APIRoot: apiRoot, Vsock: vsock, GuestAddr: guestAddr}
	if f != nil {
		info := f.Info
		vm.Info = &info
	}
	return poll.New(poll.Options{Interval: a.cfg.Interval, GuestVsockPort: uint32(a.cfg.GuestVsockPort),
		GuestAllow: a.set.guestAllow, GuestHeader: a.guestHeader()}, vm)
}
