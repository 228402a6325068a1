// Package deploy holds the files fcmon installs beside its programs — the
// service units, the guest agent's OpenRC script, the settings files, the
// package configurations — as files an operator can read and copy, and
// embeds the guest agent's service files for fcmonctl install-rootfs, so
// the one copy here is what a baked root filesystem gets.
package deploy

import _ "embed"

// GuestAgentSystemd is the guest agent's systemd unit (systemd/guest-agent.service).
//
//go:embed systemd/guest-agent.service
var GuestAgentSystemd []byte

// GuestAgentOpenRC is the guest agent's OpenRC script (openrc/guest-agent).
//
//go:embed openrc/guest-agent
var GuestAgentOpenRC []byte

// GuestAgentPath is where both of them expect the guest agent's binary.
const GuestAgentPath = "/usr/local/bin/guest-agent"
