package fcstandin

// The microVM's configuration as Firecracker v1.16.1 reads it from
// --config-file and the PUT calls and writes it in GET /vm/config: each
// struct's fields in the order of the Rust struct it copies
// (firecracker-facts.json names the file and line), optional ones as
// pointers, so that absent ones are written null as serde writes None.

// Config is a --config-file's content (VmmConfig, src/vmm/src/resources.rs:85)
// for what the stand-in serves; ID is the instance id of --id.
type Config struct {
	ID            string             `json:"-"`
	Balloon       *Balloon           `json:"balloon,omitempty"`
	Drives        []Drive            `json:"drives,omitempty"`
	BootSource    *BootSource        `json:"boot-source,omitempty"`
	MachineConfig MachineConfig      `json:"machine-config"`
	Metrics       *Metrics           `json:"metrics,omitempty"`
	Network       []NetworkInterface `json:"network-interfaces,omitempty"`
	Vsock         *Vsock             `json:"vsock,omitempty"`
}

// MachineConfig is MachineConfig (src/vmm/src/vmm_config/machine_config.rs:93);
// cpu_template is left out, as Firecracker leaves it out without a static
// template.
type MachineConfig struct {
	VCPUCount       int    `json:"vcpu_count"`
	MemSizeMiB      int    `json:"mem_size_mib"`
	SMT             bool   `json:"smt"`
	TrackDirtyPages bool   `json:"track_dirty_pages"`
	HugePages       string `json:"huge_pages"` // "None" (the default) or "2M"
}

// Balloon is BalloonDeviceConfig (src/vmm/src/vmm_config/balloon.rs:29).
type Balloon struct {
	AmountMiB             int  `json:"amount_mib"`
	DeflateOnOOM          bool `json:"deflate_on_oom"`
	StatsPollingIntervalS int  `json:"stats_polling_interval_s"`
	FreePageHinting       bool `json:"free_page_hinting"`
	FreePageReporting     bool `json:"free_page_reporting"`
}

// Vsock is VsockDeviceConfig (src/vmm/src/vmm_config/vsock.rs:26); vsock_id
// is left out when absent.
type Vsock struct {
	VsockID  string `json:"vsock_id,omitempty"`
	GuestCID uint32 `json:"guest_cid"`
	UDSPath  string `json:"uds_path"`
}

// BootSource is BootSourceConfig (src/vmm/src/vmm_config/boot_source.rs:25).
type BootSource struct {
	KernelImagePath string  `json:"kernel_image_path"`
	InitrdPath      *string `json:"initrd_path"`
	BootArgs        *string `json:"boot_args"`
}

// TokenBucket is TokenBucketConfig (src/vmm/src/vmm_config/mod.rs:72).
type TokenBucket struct {
	Size         uint64  `json:"size"`
	OneTimeBurst *uint64 `json:"one_time_burst"`
	RefillTime   uint64  `json:"refill_time"`
}

// RateLimiter is RateLimiterConfig (src/vmm/src/vmm_config/mod.rs:99).
type RateLimiter struct {
	Bandwidth *TokenBucket `json:"bandwidth"`
	Ops       *TokenBucket `json:"ops"`
}

// NetworkInterface is NetworkInterfaceConfig (src/vmm/src/vmm_config/net.rs:20).
type NetworkInterface struct {
	IfaceID       string       `json:"iface_id"`
	HostDevName   string       `json:"host_dev_name"`
	GuestMAC      *string      `json:"guest_mac"`
	MTU           *int         `json:"mtu"`
	RxRateLimiter *RateLimiter `json:"rx_rate_limiter"`
	TxRateLimiter *RateLimiter `json:"tx_rate_limiter"`
}

// Drive is BlockDeviceConfig (src/vmm/src/vmm_config/drive.rs:35). As
// Firecracker answers it for a virtio drive (From<VirtioBlockConfig>,
// src/vmm/src/devices/virtio/block/virtio/device.rs:224), is_read_only,
// path_on_host and io_engine are always set and socket is null.
type Drive struct {
	DriveID      string       `json:"drive_id"`
	PartUUID     *string      `json:"partuuid"`
	IsRootDevice bool         `json:"is_root_device"`
	CacheType    string       `json:"cache_type"` // "Unsafe" (the default) or "Writeback"
	IsReadOnly   *bool        `json:"is_read_only"`
	PathOnHost   *string      `json:"path_on_host"`
	RateLimiter  *RateLimiter `json:"rate_limiter"`
	IOEngine     *string      `json:"io_engine"` // "Sync" (the default) or "Async"
	Socket       *string      `json:"socket"`
}

// Metrics is MetricsConfig (src/vmm/src/vmm_config/metrics.rs:14): where
// the metrics lines go. Firecracker never shows it again: GET /vm/config
// answers "metrics": null.
type Metrics struct {
	MetricsPath string `json:"metrics_path"`
	// EmitID and Properties are Firecracker's after v1.16.1 (PR #5983,
	// src/vmm/src/vmm_config/metrics.rs on main): the instance id and the
	// operator's pairs on every line. The stand-in takes them only with
	// Options.MetricsProperties; v1.16.1 refuses them as unknown fields.
	EmitID     *bool             `json:"emit_id,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
}

// vmmConfig is VmmConfig as GET /vm/config writes it: the keys in the Rust
// struct's order, kebab-case, metrics always null (resources.rs:547 before
// boot, lib.rs:423 after), the devices fcmon's stand-in does not model
// (cpu-config, logger, mmds-config, entropy, memory-hotplug) null and pmem
// empty.
type vmmConfig struct {
	Balloon       *Balloon           `json:"balloon"`
	Drives        []Drive            `json:"drives"`
	BootSource    BootSource         `json:"boot-source"`
	CPUConfig     any                `json:"cpu-config"`
	Logger        any                `json:"logger"`
	MachineConfig MachineConfig      `json:"machine-config"`
	Metrics       any                `json:"metrics"`
	MMDSConfig    any                `json:"mmds-config"`
	Network       []NetworkInterface `json:"network-interfaces"`
	Vsock         *Vsock             `json:"vsock"`
	Entropy       any                `json:"entropy"`
	Pmem          []any              `json:"pmem"`
	MemoryHotplug any                `json:"memory-hotplug"`
}

// normalized fills in what Firecracker fills in: the defaults of the
// machine and the drives, the fields a configured drive always answers.
func (c Config) normalized() Config {
	if c.MachineConfig.HugePages == "" {
		c.MachineConfig.HugePages = "None"
	}
	drives := make([]Drive, len(c.Drives))
	for i, d := range c.Drives {
		if d.CacheType == "" {
			d.CacheType = "Unsafe"
		}
		if d.Socket == nil { // a virtio drive answers these (a vhost-user one null)
			if d.IsReadOnly == nil {
				d.IsReadOnly = ptr(false)
			}
			if d.PathOnHost == nil {
				d.PathOnHost = ptr("")
			}
			if d.IOEngine == nil {
				d.IOEngine = ptr("Sync")
			}
		}
		drives[i] = d
	}
	c.Drives = drives
	return c
}

func ptr[T any](v T) *T { return &v }

// vmConfig is GET /vm/config's answer.
func (c Config) vmConfig() vmmConfig {
	out := vmmConfig{Balloon: c.Balloon, Drives: c.Drives, MachineConfig: c.MachineConfig, Network: c.Network, Vsock: c.Vsock, Pmem: []any{}}
	if out.Drives == nil {
		out.Drives = []Drive{}
	}
	if out.Network == nil {
		out.Network = []NetworkInterface{}
	}
	if c.BootSource != nil {
		out.BootSource = *c.BootSource
	}
	return out
}
