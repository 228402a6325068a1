package vmtable

import (
	"github.com/fcmon/fcmon/internal/hostagent/discovery"
	"github.com/fcmon/fcmon/internal/hostagent/firecracker"
	"github.com/fcmon/fcmon/internal/hostagent/poll"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// guestHeader is what every request to a guest agent carries.
func (a *Table) guestHeader() []string {
	h := []string{"User-Agent: fcmon-host-agent"}
	if a.opt.GuestToken != "" {
		h = append(h, "Authorization: Bearer "+a.opt.GuestToken)
	}
	return h
}

// newPoller returns the poller of VM id (see poll.VM), f discovery's
// account (nil for an attached VM).
func (a *Table) newPoller(id string, api *firecracker.Client, apiRoot *vmpath.Root, vsock vmpath.Path, guestAddr string, f *discovery.Found) *poll.Poller {
	vm := poll.VM{ID: id, API: api, APIRoot: apiRoot, Vsock: vsock, GuestAddr: guestAddr}
	if f != nil {
		info := f.Info
		vm.Info = &info
	}
	return poll.New(poll.Options{Interval: a.opt.Interval, GuestVsockPort: a.opt.GuestVsockPort,
		GuestAllow: a.opt.GuestAllow, GuestHeader: a.guestHeader()}, vm)
}
