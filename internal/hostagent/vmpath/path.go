package vmpath

import (
	"context"
	"net"
)

// Path is a path a VM names and the Root it resolves in: the host's,
// beneath the allowed directories, for a path an attach gave; the
// process's (its jail) for one discovery found.
type Path struct {
	Root *Root
	Name string
	// Attached: an attach gave it, so a metrics FIFO may be created there.
	Attached bool
}

// Set reports whether p names anything.
func (p Path) Set() bool { return p.Name != "" }

// Shown is how the host reaches the path, for the API and logs.
func (p Path) Shown() string {
	if !p.Set() {
		return ""
	}
	return p.Root.Show(p.Name)
}

// Same reports whether p and q name the same path in the same root.
func (p Path) Same(q Path) bool { return p.Name == q.Name && p.Root.Equal(q.Root) }

// Key is the identity of the file p names, checked as by Root.Resolve.
func (p Path) Key(kind Kind) (FileKey, error) { return p.Root.Key(p.Name, kind) }

// Dial connects to the socket p names, checked at every dial.
func (p Path) Dial(ctx context.Context) (net.Conn, error) { return p.Root.Dial(ctx, p.Name) }
