package fcstandin

// Firecracker v1.16.1's metrics groups, each a struct whose fields are in the
// declaration order of the Rust struct it copies (firecracker-facts.json names
// the file and line), so encoding/json writes them as serde does. Counters
// hold the count since the previous line; aggregates are LatencyAgg.

// apiServerMetrics is ApiServerMetrics (src/vmm/src/logger/metrics.rs:337).
type apiServerMetrics struct {
	ProcessStartupTimeUs    uint64 `json:"process_startup_time_us" fc:"store"`
	ProcessStartupTimeCpuUs uint64 `json:"process_startup_time_cpu_us" fc:"store"`
}

// deprecatedApiMetrics is DeprecatedApiMetrics (src/vmm/src/logger/metrics.rs:520).
type deprecatedApiMetrics struct {
	DeprecatedHttpApiCalls uint64 `json:"deprecated_http_api_calls"`
}

// getRequestsMetrics is GetRequestsMetrics (src/vmm/src/logger/metrics.rs:355).
type getRequestsMetrics struct {
	InstanceInfoCount  uint64 `json:"instance_info_count"`
	MachineCfgCount    uint64 `json:"machine_cfg_count"`
	MmdsCount          uint64 `json:"mmds_count"`
	VmmVersionCount    uint64 `json:"vmm_version_count"`
	HotplugMemoryCount uint64 `json:"hotplug_memory_count"`
}

// performanceMetrics is PerformanceMetrics (src/vmm/src/logger/metrics.rs:617).
type performanceMetrics struct {
	FullCreateSnapshot    uint64 `json:"full_create_snapshot" fc:"store"`
	DiffCreateSnapshot    uint64 `json:"diff_create_snapshot" fc:"store"`
	LoadSnapshot          uint64 `json:"load_snapshot" fc:"store"`
	PauseVm               uint64 `json:"pause_vm" fc:"store"`
	ResumeVm              uint64 `json:"resume_vm" fc:"store"`
	VmmFullCreateSnapshot uint64 `json:"vmm_full_create_snapshot" fc:"store"`
	VmmDiffCreateSnapshot uint64 `json:"vmm_diff_create_snapshot" fc:"store"`
	VmmLoadSnapshot       uint64 `json:"vmm_load_snapshot" fc:"store"`
	VmmPauseVm            uint64 `json:"vmm_pause_vm" fc:"store"`
	VmmResumeVm           uint64 `json:"vmm_resume_vm" fc:"store"`
}

// loggerSystemMetrics is LoggerSystemMetrics (src/vmm/src/logger/metrics.rs:535).
type loggerSystemMetrics struct {
	MissedMetricsCount  uint64 `json:"missed_metrics_count"`
	MetricsFails        uint64 `json:"metrics_fails"`
	MissedLogCount      uint64 `json:"missed_log_count"`
	RateLimitedLogCount uint64 `json:"rate_limited_log_count"`
}

// mmdsMetrics is MmdsMetrics (src/vmm/src/logger/metrics.rs:559).
type mmdsMetrics struct {
	RxAccepted           uint64 `json:"rx_accepted"`
	RxAcceptedErr        uint64 `json:"rx_accepted_err"`
	RxAcceptedUnusual    uint64 `json:"rx_accepted_unusual"`
	RxBadEth             uint64 `json:"rx_bad_eth"`
	RxInvalidToken       uint64 `json:"rx_invalid_token"`
	RxNoToken            uint64 `json:"rx_no_token"`
	RxCount              uint64 `json:"rx_count"`
	TxBytes              uint64 `json:"tx_bytes"`
	TxCount              uint64 `json:"tx_count"`
	TxErrors             uint64 `json:"tx_errors"`
	TxFrames             uint64 `json:"tx_frames"`
	ConnectionsCreated   uint64 `json:"connections_created"`
	ConnectionsDestroyed uint64 `json:"connections_destroyed"`
}

// patchRequestsMetrics is PatchRequestsMetrics (src/vmm/src/logger/metrics.rs:472).
type patchRequestsMetrics struct {
	DriveCount         uint64 `json:"drive_count"`
	DriveFails         uint64 `json:"drive_fails"`
	NetworkCount       uint64 `json:"network_count"`
	NetworkFails       uint64 `json:"network_fails"`
	MachineCfgCount    uint64 `json:"machine_cfg_count"`
	MachineCfgFails    uint64 `json:"machine_cfg_fails"`
	MmdsCount          uint64 `json:"mmds_count"`
	MmdsFails          uint64 `json:"mmds_fails"`
	HotplugMemoryCount uint64 `json:"hotplug_memory_count"`
	HotplugMemoryFails uint64 `json:"hotplug_memory_fails"`
	PmemCount          uint64 `json:"pmem_count"`
	PmemFails          uint64 `json:"pmem_fails"`
}

// putRequestsMetrics is PutRequestsMetrics (src/vmm/src/logger/metrics.rs:382).
type putRequestsMetrics struct {
	ActionsCount       uint64 `json:"actions_count"`
	ActionsFails       uint64 `json:"actions_fails"`
	BootSourceCount    uint64 `json:"boot_source_count"`
	BootSourceFails    uint64 `json:"boot_source_fails"`
	DriveCount         uint64 `json:"drive_count"`
	DriveFails         uint64 `json:"drive_fails"`
	LoggerCount        uint64 `json:"logger_count"`
	LoggerFails        uint64 `json:"logger_fails"`
	MachineCfgCount    uint64 `json:"machine_cfg_count"`
	MachineCfgFails    uint64 `json:"machine_cfg_fails"`
	CpuCfgCount        uint64 `json:"cpu_cfg_count"`
	CpuCfgFails        uint64 `json:"cpu_cfg_fails"`
	MetricsCount       uint64 `json:"metrics_count"`
	MetricsFails       uint64 `json:"metrics_fails"`
	NetworkCount       uint64 `json:"network_count"`
	NetworkFails       uint64 `json:"network_fails"`
	MmdsCount          uint64 `json:"mmds_count"`
	MmdsFails          uint64 `json:"mmds_fails"`
	VsockCount         uint64 `json:"vsock_count"`
	VsockFails         uint64 `json:"vsock_fails"`
	PmemCount          uint64 `json:"pmem_count"`
	PmemFails          uint64 `json:"pmem_fails"`
	SerialCount        uint64 `json:"serial_count"`
	SerialFails        uint64 `json:"serial_fails"`
	HotplugMemoryCount uint64 `json:"hotplug_memory_count"`
	HotplugMemoryFails uint64 `json:"hotplug_memory_fails"`
}

// seccompMetrics is SeccompMetrics (src/vmm/src/logger/metrics.rs:659).
type seccompMetrics struct {
	NumFaults uint64 `json:"num_faults" fc:"store"`
}

// vcpuMetrics is VcpuMetrics (src/vmm/src/logger/metrics.rs:786).
type vcpuMetrics struct {
	ExitIoIn          uint64     `json:"exit_io_in"`
	ExitIoOut         uint64     `json:"exit_io_out"`
	ExitMmioRead      uint64     `json:"exit_mmio_read"`
	ExitMmioWrite     uint64     `json:"exit_mmio_write"`
	Failures          uint64     `json:"failures"`
	KvmclockCtrlFails uint64     `json:"kvmclock_ctrl_fails"`
	ExitIoInAgg       LatencyAgg `json:"exit_io_in_agg"`
	ExitIoOutAgg      LatencyAgg `json:"exit_io_out_agg"`
	ExitMmioReadAgg   LatencyAgg `json:"exit_mmio_read_agg"`
	ExitMmioWriteAgg  LatencyAgg `json:"exit_mmio_write_agg"`
}

// vmmMetrics is VmmMetrics (src/vmm/src/logger/metrics.rs:847).
type vmmMetrics struct {
	PanicCount uint64 `json:"panic_count" fc:"store"`
}

// signalMetrics is SignalMetrics (src/vmm/src/logger/metrics.rs:677).
type signalMetrics struct {
	Sigbus  uint64 `json:"sigbus" fc:"store"`
	Sigsegv uint64 `json:"sigsegv" fc:"store"`
	Sigxfsz uint64 `json:"sigxfsz" fc:"store"`
	Sigxcpu uint64 `json:"sigxcpu" fc:"store"`
	Sigpipe uint64 `json:"sigpipe"`
	Sighup  uint64 `json:"sighup" fc:"store"`
	Sigill  uint64 `json:"sigill" fc:"store"`
}

// interruptMetrics is InterruptMetrics (src/vmm/src/logger/metrics.rs:828).
type interruptMetrics struct {
	Triggers      uint64 `json:"triggers"`
	ConfigUpdates uint64 `json:"config_updates"`
}

// netDeviceMetrics is NetDeviceMetrics (src/vmm/src/devices/virtio/net/metrics.rs:147).
type netDeviceMetrics struct {
	ActivateFails           uint64     `json:"activate_fails"`
	CfgFails                uint64     `json:"cfg_fails"`
	MacAddressUpdates       uint64     `json:"mac_address_updates"`
	NoRxAvailBuffer         uint64     `json:"no_rx_avail_buffer"`
	NoTxAvailBuffer         uint64     `json:"no_tx_avail_buffer"`
	EventFails              uint64     `json:"event_fails"`
	RxQueueEventCount       uint64     `json:"rx_queue_event_count"`
	RxEventRateLimiterCount uint64     `json:"rx_event_rate_limiter_count"`
	RxRateLimiterThrottled  uint64     `json:"rx_rate_limiter_throttled"`
	RxTapEventCount         uint64     `json:"rx_tap_event_count"`
	RxBytesCount            uint64     `json:"rx_bytes_count"`
	RxPacketsCount          uint64     `json:"rx_packets_count"`
	RxFails                 uint64     `json:"rx_fails"`
	RxCount                 uint64     `json:"rx_count"`
	TapReadFails            uint64     `json:"tap_read_fails"`
	TapWriteFails           uint64     `json:"tap_write_fails"`
	TapWriteAgg             LatencyAgg `json:"tap_write_agg"`
	TxBytesCount            uint64     `json:"tx_bytes_count"`
	TxMalformedFrames       uint64     `json:"tx_malformed_frames"`
	TxFails                 uint64     `json:"tx_fails"`
	TxCount                 uint64     `json:"tx_count"`
	TxPacketsCount          uint64     `json:"tx_packets_count"`
	TxQueueEventCount       uint64     `json:"tx_queue_event_count"`
	TxRateLimiterEventCount uint64     `json:"tx_rate_limiter_event_count"`
	TxRateLimiterThrottled  uint64     `json:"tx_rate_limiter_throttled"`
	TxSpoofedMacCount       uint64     `json:"tx_spoofed_mac_count"`
	TxRemainingReqsCount    uint64     `json:"tx_remaining_reqs_count"`
}

// blockDeviceMetrics is BlockDeviceMetrics (src/vmm/src/devices/virtio/block/virtio/metrics.rs:145).
type blockDeviceMetrics struct {
	ActivateFails              uint64     `json:"activate_fails"`
	CfgFails                   uint64     `json:"cfg_fails"`
	NoAvailBuffer              uint64     `json:"no_avail_buffer"`
	EventFails                 uint64     `json:"event_fails"`
	ExecuteFails               uint64     `json:"execute_fails"`
	InvalidReqsCount           uint64     `json:"invalid_reqs_count"`
	FlushCount                 uint64     `json:"flush_count"`
	QueueEventCount            uint64     `json:"queue_event_count"`
	RateLimiterEventCount      uint64     `json:"rate_limiter_event_count"`
	UpdateCount                uint64     `json:"update_count"`
	UpdateFails                uint64     `json:"update_fails"`
	ReadBytes                  uint64     `json:"read_bytes"`
	WriteBytes                 uint64     `json:"write_bytes"`
	ReadCount                  uint64     `json:"read_count"`
	WriteCount                 uint64     `json:"write_count"`
	ReadAgg                    LatencyAgg `json:"read_agg"`
	WriteAgg                   LatencyAgg `json:"write_agg"`
	RateLimiterThrottledEvents uint64     `json:"rate_limiter_throttled_events"`
	IoEngineThrottledEvents    uint64     `json:"io_engine_throttled_events"`
	RemainingReqsCount         uint64     `json:"remaining_reqs_count"`
}

// vsockDeviceMetrics is VsockDeviceMetrics (src/vmm/src/devices/virtio/vsock/metrics.rs:56).
type vsockDeviceMetrics struct {
	ActivateFails     uint64 `json:"activate_fails"`
	CfgFails          uint64 `json:"cfg_fails"`
	RxQueueEventFails uint64 `json:"rx_queue_event_fails"`
	TxQueueEventFails uint64 `json:"tx_queue_event_fails"`
	EvQueueEventFails uint64 `json:"ev_queue_event_fails"`
	MuxerEventFails   uint64 `json:"muxer_event_fails"`
	ConnEventFails    uint64 `json:"conn_event_fails"`
	RxQueueEventCount uint64 `json:"rx_queue_event_count"`
	TxQueueEventCount uint64 `json:"tx_queue_event_count"`
	RxBytesCount      uint64 `json:"rx_bytes_count"`
	TxBytesCount      uint64 `json:"tx_bytes_count"`
	RxPacketsCount    uint64 `json:"rx_packets_count"`
	TxPacketsCount    uint64 `json:"tx_packets_count"`
	ConnsAdded        uint64 `json:"conns_added"`
	ConnsKilled       uint64 `json:"conns_killed"`
	ConnsRemoved      uint64 `json:"conns_removed"`
	KillqResync       uint64 `json:"killq_resync"`
	TxFlushFails      uint64 `json:"tx_flush_fails"`
	TxWriteFails      uint64 `json:"tx_write_fails"`
	RxReadFails       uint64 `json:"rx_read_fails"`
}

// balloonDeviceMetrics is BalloonDeviceMetrics (src/vmm/src/devices/virtio/balloon/metrics.rs:53).
type balloonDeviceMetrics struct {
	ActivateFails       uint64 `json:"activate_fails"`
	InflateCount        uint64 `json:"inflate_count"`
	StatsUpdatesCount   uint64 `json:"stats_updates_count"`
	StatsUpdateFails    uint64 `json:"stats_update_fails"`
	DeflateCount        uint64 `json:"deflate_count"`
	EventFails          uint64 `json:"event_fails"`
	FreePageReportCount uint64 `json:"free_page_report_count"`
	FreePageReportFreed uint64 `json:"free_page_report_freed"`
	FreePageReportFails uint64 `json:"free_page_report_fails"`
	FreePageHintCount   uint64 `json:"free_page_hint_count"`
	FreePageHintFreed   uint64 `json:"free_page_hint_freed"`
	FreePageHintFails   uint64 `json:"free_page_hint_fails"`
}

// entropyDeviceMetrics is EntropyDeviceMetrics (src/vmm/src/devices/virtio/rng/metrics.rs:52).
type entropyDeviceMetrics struct {
	ActivateFails               uint64 `json:"activate_fails"`
	EntropyEventFails           uint64 `json:"entropy_event_fails"`
	EntropyEventCount           uint64 `json:"entropy_event_count"`
	EntropyBytes                uint64 `json:"entropy_bytes"`
	HostRngFails                uint64 `json:"host_rng_fails"`
	EntropyRateLimiterThrottled uint64 `json:"entropy_rate_limiter_throttled"`
	RateLimiterEventCount       uint64 `json:"rate_limiter_event_count"`
}

// pmemMetrics is PmemMetrics (src/vmm/src/devices/virtio/pmem/metrics.rs:145).
type pmemMetrics struct {
	ActivateFails              uint64 `json:"activate_fails"`
	CfgFails                   uint64 `json:"cfg_fails"`
	EventFails                 uint64 `json:"event_fails"`
	QueueEventCount            uint64 `json:"queue_event_count"`
	RateLimiterThrottledEvents uint64 `json:"rate_limiter_throttled_events"`
	RateLimiterEventCount      uint64 `json:"rate_limiter_event_count"`
}

// virtioMemDeviceMetrics is VirtioMemDeviceMetrics (src/vmm/src/devices/virtio/mem/metrics.rs:41).
type virtioMemDeviceMetrics struct {
	ActivateFails      uint64     `json:"activate_fails"`
	QueueEventFails    uint64     `json:"queue_event_fails"`
	QueueEventCount    uint64     `json:"queue_event_count"`
	PlugAgg            LatencyAgg `json:"plug_agg"`
	PlugCount          uint64     `json:"plug_count"`
	PlugBytes          uint64     `json:"plug_bytes"`
	PlugFails          uint64     `json:"plug_fails"`
	UnplugAgg          LatencyAgg `json:"unplug_agg"`
	UnplugCount        uint64     `json:"unplug_count"`
	UnplugBytes        uint64     `json:"unplug_bytes"`
	UnplugFails        uint64     `json:"unplug_fails"`
	UnplugDiscardFails uint64     `json:"unplug_discard_fails"`
	UnplugAllAgg       LatencyAgg `json:"unplug_all_agg"`
	UnplugAllCount     uint64     `json:"unplug_all_count"`
	UnplugAllFails     uint64     `json:"unplug_all_fails"`
	StateAgg           LatencyAgg `json:"state_agg"`
	StateCount         uint64     `json:"state_count"`
	StateFails         uint64     `json:"state_fails"`
}

// i8042DeviceMetrics is I8042DeviceMetrics (src/vmm/src/devices/legacy/i8042.rs:31).
type i8042DeviceMetrics struct {
	ErrorCount       uint64 `json:"error_count"`
	MissedReadCount  uint64 `json:"missed_read_count"`
	MissedWriteCount uint64 `json:"missed_write_count"`
	ReadCount        uint64 `json:"read_count"`
	ResetCount       uint64 `json:"reset_count"`
	WriteCount       uint64 `json:"write_count"`
}

// serialDeviceMetrics is SerialDeviceMetrics (src/vmm/src/devices/legacy/serial.rs:31).
type serialDeviceMetrics struct {
	ErrorCount              uint64 `json:"error_count"`
	FlushCount              uint64 `json:"flush_count"`
	MissedReadCount         uint64 `json:"missed_read_count"`
	MissedWriteCount        uint64 `json:"missed_write_count"`
	ReadCount               uint64 `json:"read_count"`
	WriteCount              uint64 `json:"write_count"`
	RateLimiterDroppedBytes uint64 `json:"rate_limiter_dropped_bytes"`
}

// vhostUserDeviceMetrics is VhostUserDeviceMetrics (src/vmm/src/devices/virtio/vhost_user_metrics.rs:132).
type vhostUserDeviceMetrics struct {
	ActivateFails      uint64 `json:"activate_fails"`
	CfgFails           uint64 `json:"cfg_fails"`
	InitTimeUs         uint64 `json:"init_time_us" fc:"store"`
	ActivateTimeUs     uint64 `json:"activate_time_us" fc:"store"`
	ConfigChangeTimeUs uint64 `json:"config_change_time_us" fc:"store"`
}
