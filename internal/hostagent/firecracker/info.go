package firecracker

import "github.com/fcmon/fcmon/internal/core/wire"

// Info is Firecracker's account of a VM (GET / and GET /vm/config) in
// fcmon's terms.
func Info(ii InstanceInfo, vc VMConfig) wire.FirecrackerInfo {
	info := wire.FirecrackerInfo{State: ii.State, VMMVersion: ii.VMMVersion,
		VCPUs: vc.MachineConfig.VCPUCount, MemSizeMiB: vc.MachineConfig.MemSizeMiB}
	if b := vc.Balloon; b != nil {
		info.BalloonStats = b.StatsPollingIntervalS > 0
	}
	for _, n := range vc.Network {
		if n.HostDevName != "" {
			info.Taps = append(info.Taps, n.HostDevName)
		}
	}
	if vc.Vsock != nil {
		info.GuestCID = vc.Vsock.GuestCID
	}
	return info
}

// BalloonKB turns Firecracker's balloon statistics (bytes) into kB.
func BalloonKB(st *BalloonStats) *wire.BalloonStats {
	kb := func(v *uint64) *uint64 {
		if v == nil {
			return nil
		}
		x := *v / 1024
		return &x
	}
	return &wire.BalloonStats{TotalKB: kb(st.TotalMemory), AvailableKB: kb(st.AvailableMemory), FreeKB: kb(st.FreeMemory),
		DiskCachesKB: kb(st.DiskCaches), SwapInKB: kb(st.SwapIn), SwapOutKB: kb(st.SwapOut),
		MajorFaults: st.MajorFaults, MinorFaults: st.MinorFaults, OOMKills: st.OOMKill,
		TargetMiB: st.TargetMiB, ActualMiB: st.ActualMiB}
}
