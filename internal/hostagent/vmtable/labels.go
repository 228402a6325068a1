package vmtable

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// labelsReread is how often a VM's labels file is read again: a launcher
// that relabels a running VM is seen within it.
const labelsReread = 10 * time.Second

// labelsFile is a VM's labels file as last read.
type labelsFile struct {
	mu      sync.Mutex
	readAt  time.Time
	from    vmpath.Path // the API socket it was looked for beside
	set     labels.Set
	found   bool
	problem string
}

// vmLabels are the labels v's launcher gave it: the labels file beside its
// API socket when there is one (root's, as the launcher writes it), else
// those under fcmon.labels in its MMDS (put through the API socket), else
// the properties of Firecracker's metrics lines. The last two pass
// through the VMM process and so vouch for no more than the VMM does.
// problem says what was refused. The guest has no say in any of them.
func vmLabels(v *vm, props map[string]string, now time.Time) (labels.Set, string) {
	set, found, problem := v.labels.get(v.paths.socket, now)
	if found {
		return set, problem
	}
	if v.poll != nil {
		if set, found, problem := v.poll.MMDSLabels(); found {
			return set, problem
		}
	}
	return fromProperties(props)
}

// get returns the labels file beside socket, reread every labelsReread.
func (f *labelsFile) get(socket vmpath.Path, now time.Time) (labels.Set, bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !socket.Set() {
		return nil, false, ""
	}
	if !f.readAt.IsZero() && now.Sub(f.readAt) < labelsReread && f.from.Same(socket) {
		return f.set, f.found, f.problem
	}
	f.readAt, f.from = now, socket
	name := filepath.Join(filepath.Dir(socket.Name), labels.FileName)
	f.set, f.found, f.problem = readLabelsFile(socket.Root, name)
	return f.set, f.found, f.problem
}

// readLabelsFile reads and checks the labels file name in root. A file
// that is there but refused (its owner, its mode, its contents) gives no
// labels, never some of them, and is not replaced by the properties: the
// launcher meant the file.
func readLabelsFile(root *vmpath.Root, name string) (labels.Set, bool, string) {
	data, err := root.ReadKind(name, vmpath.Launcher, labels.MaxFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, ""
	}
	if err != nil {
		return nil, true, err.Error()
	}
	set, err := labels.ParseFile(data)
	if err != nil {
		return nil, true, fmt.Sprintf("%s: %v", root.Show(name), err)
	}
	return set, true, ""
}

// fromProperties keeps the properties that are valid labels (Firecracker
// takes any string pairs, for other readers too), the first MaxLabels in
// key order, and says what it left out.
func fromProperties(props map[string]string) (labels.Set, string) {
	if len(props) == 0 {
		return nil, ""
	}
	var set labels.Set
	skipped, first := 0, ""
	for _, k := range slices.Sorted(maps.Keys(props)) {
		err := labels.CheckKey(k)
		if err == nil {
			err = labels.CheckValue(k, props[k])
		}
		if err == nil && len(set) == labels.MaxLabels {
			err = fmt.Errorf("more than %d labels", labels.MaxLabels)
		}
		if err != nil {
			if skipped++; first == "" {
				first = err.Error()
			}
			continue
		}
		if set == nil {
			set = labels.Set{}
		}
		set[k] = props[k]
	}
	if skipped > 0 {
		return set, fmt.Sprintf("%d of Firecracker's metrics properties are not labels, the first: %s", skipped, first)
	}
	return set, ""
}
