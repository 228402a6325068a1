// Package store keeps the manager's durable state: the VM registry and the
// 1-minute history rollups. One Store interface has two backends, SQLite
// (embedded, the default) and PostgreSQL, which share their queries and carry
// the same logical schema, migrated at Open.
package store

import (
	"context"
	"errors"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// Sentinel errors callers test with errors.Is.
var (
	// ErrNotFound reports that the VM named by an id does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists reports that a VM with the same id is already registered.
	ErrExists = errors.New("already exists")
	// ErrInvalid reports a value the store refuses to keep (an empty id or
	// name, a port outside 1–65535, an unknown rollup source, a figure that
	// is NaN or infinite). Finer validation is the API layer's job.
	ErrInvalid = errors.New("invalid value")
	// ErrUnavailable reports that the database did not answer (down,
	// unreachable, overloaded or busy): a request that failed with it may
	// succeed later, and the API answers 503 rather than 500.
	ErrUnavailable = errors.New("database unavailable")
	// ErrSchemaTooNew reports a database migrated by a newer fcmon than this
	// one; Open refuses it rather than run against a schema it does not know.
	ErrSchemaTooNew = errors.New("database schema is newer than this fcmon")
)

// VM is one registered virtual machine. Optional fields are zero when not
// set and are stored as NULL.
type VM struct {
	ID   string // UUID text, chosen by the caller
	Name string // never empty

	GuestIP   string // "" when not set
	GuestPort int    // 1–65535; CreateVM stores wire.DefaultGuestPort for 0

	HostAgentURL string // "" when not set
	MetricsFIFO  string // "" when not set
	APISocket    string // "" when not set
	VMMPID       int    // 0 when not set

	// HostID is the host agent that reports the VM and HostVMID its id
	// there (Firecracker's --id); both "" for a VM registered by hand.
	HostID, HostVMID string
	// GoneMs is when its host agent stopped reporting it (Unix ms); 0
	// while it is there.
	GoneMs int64

	// Labels are those the API set; LauncherLabels those the VM's host
	// agent reports (see labels.FileName). Merged is both, the API's
	// winning for a key both hold: the labels the VM is selected by. All
	// nil when there are none; shared with the registry's cache: read only.
	Labels, LauncherLabels, Merged labels.Set

	CreatedMs int64 // Unix ms, set by CreateVM
	UpdatedMs int64 // Unix ms, set by every write
}

// MergeLabels sets Merged from Labels and LauncherLabels.
func (vm *VM) MergeLabels() { vm.Merged = labels.Merge(vm.LauncherLabels, vm.Labels) }

// Host is a host agent the manager collects from.
type Host struct {
	ID   string // UUID text, chosen by the caller
	URL  string // base URL, unique
	Name string // the host name it reports; "" until it has answered

	CreatedMs int64
	UpdatedMs int64
}

// Stat is the average and maximum of one figure over a minute. Valid is
// false when no sample of the minute had the figure (stored as NULL); Avg
// and Max are then zero.
type Stat struct {
	Avg, Max float64
	Valid    bool
}

// Rollup is one VM's figures over one minute. MinuteMs is the start of the
// minute in Unix ms; (VMID, MinuteMs) is its key.
type Rollup struct {
	VMID     string
	MinuteMs int64
	Samples  int // samples folded into the minute, >= 0
	// Source is where the CPU figure came from (wire.SourceGuest,
	// SourceVCPU, SourceHost or SourceNone) and SourceSamples how many
	// samples of it; MemorySource and MemorySourceSamples likewise for the
	// memory figures (SourceGuest, SourceBalloon, SourceHost, SourceNone).
	// Samples of other sources are counted in Samples only.
	Source              string
	SourceSamples       int
	MemorySource        string
	MemorySourceSamples int

	CPU        Stat // cpu_usage_percent
	MemPct     Stat // memory_usage_percent
	MemUsedKB  Stat // memory_used_kb
	MemTotalKB Stat // memory_total_kb
	NetRx      Stat // network rx_bytes_per_sec
	NetTx      Stat // network tx_bytes_per_sec
	DiskRead   Stat // disk read_bytes_per_sec
	DiskWrite  Stat // disk write_bytes_per_sec

	// The VMM's cgroup: the share of quota periods throttled, memory in
	// use (Max: the minute's peak) and its limit, in KiB; and the VM's
	// vCPUs.
	Throttled, CgroupMemKB, CgroupLimitKB, VCPUs Stat
}

// PruneQuery selects gone VMs to delete (PruneVMs): those gone before
// GoneBeforeMs, of them only the unsampled ones (host agents' VMs whose
// history holds no figure: no CPU or memory from any source, no rates)
// when Unsampled is set; or, with Oldest, the Oldest VMs
// longest gone.
type PruneQuery struct {
	GoneBeforeMs int64
	Unsampled    bool
	Oldest       int
}

// Store is the manager's durable state. Its methods are safe for concurrent
// use; every write is atomic — it is stored entirely or not at all.
type Store interface {
	// CreateVM stores a new VM, setting CreatedMs and UpdatedMs to now and
	// GuestPort to wire.DefaultGuestPort when zero, and returns it as stored.
	// A VM with the same ID gives ErrExists.
	CreateVM(ctx context.Context, vm VM) (VM, error)

	// CreateVMs stores many new VMs in one transaction, as CreateVM does
	// each, and returns those stored: one whose ID (or host and host VM
	// id) is taken is left out, not an error. A VM of an unknown host
	// gives ErrNotFound and stores none.
	CreateVMs(ctx context.Context, vms []VM) ([]VM, error)

	// GetVM returns the VM with the id, or ErrNotFound.
	GetVM(ctx context.Context, id string) (VM, error)

	// ListVMs returns every VM sorted by name, then id.
	ListVMs(ctx context.Context) ([]VM, error)

	// UpdateGuestIP sets the VM's guest address and returns the VM as
	// stored. ip "" clears the address; port 0 keeps the current port.
	// An unknown id gives ErrNotFound.
	UpdateGuestIP(ctx context.Context, id, ip string, port int) (VM, error)

	// SetLabels replaces the API's labels of the VM (nil: none) and
	// returns the VM as stored; an unknown id gives ErrNotFound.
	SetLabels(ctx context.Context, id string, set labels.Set) (VM, error)

	// SetLauncherLabels replaces the launcher labels of the VMs, by id, in
	// one transaction; unknown ids are skipped.
	SetLauncherLabels(ctx context.Context, byID map[string]labels.Set) error

	// SetVMsGone sets gone_ms of the VMs (0 clears it: the VM is back).
	// Unknown ids are skipped.
	SetVMsGone(ctx context.Context, ids []string, goneMs int64) error

	// PruneVMs deletes, with their rollups and events, the gone VMs q
	// selects, and returns their ids.
	PruneVMs(ctx context.Context, q PruneQuery) ([]string, error)

	// CreateHost stores a host agent; the same ID or URL gives ErrExists.
	CreateHost(ctx context.Context, h Host) (Host, error)

	// GetHost returns the host agent with the id, or ErrNotFound.
	GetHost(ctx context.Context, id string) (Host, error)

	// ListHosts returns every host agent sorted by URL.
	ListHosts(ctx context.Context) ([]Host, error)

	// SetHostName records the host name a host agent reported.
	SetHostName(ctx context.Context, id, name string) error

	// DeleteHost removes the host agent; its VMs stay, with their history,
	// marked gone at goneMs unless they already were. An unknown id gives
	// ErrNotFound.
	DeleteHost(ctx context.Context, id string, goneMs int64) error

	// DeleteVM removes the VM and all its rollups in one transaction.
	// An unknown id gives ErrNotFound.
	DeleteVM(ctx context.Context, id string) error

	// UpsertRollups stores the rollups in one transaction, replacing any
	// stored for the same VM and minute. If one fails none is stored; a
	// rollup for an unknown VM gives ErrNotFound.
	UpsertRollups(ctx context.Context, rollups []Rollup) error

	// Rollups returns the VM's rollups with sinceMs <= MinuteMs < untilMs,
	// ascending by minute. An unknown VM has no rollups (no error).
	Rollups(ctx context.Context, vmID string, sinceMs, untilMs int64) ([]Rollup, error)

	// EachRollup calls fn with every VM's rollups of minutes in [sinceMs,
	// untilMs), by VM then minute, streamed rather than held: GET
	// /v1/usage over a fleet. An error of fn ends it and is returned.
	EachRollup(ctx context.Context, sinceMs, untilMs int64, fn func(Rollup) error) error

	// PruneRollups deletes every rollup with MinuteMs < olderThanMs and
	// returns how many it deleted.
	PruneRollups(ctx context.Context, olderThanMs int64) (int64, error)

	// Heartbeat records that manager m is alive (now), and forgets members
	// silent for over forgetAfterMs.
	Heartbeat(ctx context.Context, m Member, forgetAfterMs int64) error

	// Members returns the managers heard from within liveWithinMs, oldest
	// first, each with the host agents it holds a live lease on.
	Members(ctx context.Context, liveWithinMs int64) ([]Member, error)

	// ClaimHosts makes owner's leases the hosts of want that it holds or
	// nobody holds (or whose lease expired), each for ttlMs, releases its
	// other leases, and returns the hosts it holds now.
	ClaimHosts(ctx context.Context, owner string, want []string, ttlMs int64) ([]string, error)

	// PeerSecret returns the secret the managers sharing the database sign
	// their requests to each other with, making it on first use.
	PeerSecret(ctx context.Context) (string, error)

	// LeaveCluster releases the member's leases and forgets it.
	LeaveCluster(ctx context.Context, id string) error

	// AddEvents stores events in one transaction and returns them with
	// their ids; an event of a VM that no longer exists is left out.
	AddEvents(ctx context.Context, events []wire.Event) ([]wire.Event, error)

	// Events returns the events q selects, newest first.
	Events(ctx context.Context, q EventQuery) ([]wire.Event, error)

	// PruneEvents deletes the events before olderThanMs.
	PruneEvents(ctx context.Context, olderThanMs int64) (int64, error)

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error

	// Backend names the database: "sqlite" or "postgres".
	Backend() string

	// Close releases the database; the Store must not be used afterwards.
	Close() error
}
