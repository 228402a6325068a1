package hostagent

import "github.com/fcmon/fcmon/internal/core/wire"

// The agent's JSON documents are defined once, in package wire, for the
// agent and the manager alike; these names keep the agent's code short.
type (
	VMConfig          = wire.VMConfig
	VMInfo            = wire.VMInfo
	VMStats           = wire.VMStats
	Network           = wire.VMNetwork
	NetInterface      = wire.VMNetInterface
	Block             = wire.VMBlock
	Drive             = wire.VMDrive
	FirecrackerStatus = wire.FirecrackerStatus
	FlushStatus       = wire.FlushStatus
	TapStats          = wire.TapStats
)
