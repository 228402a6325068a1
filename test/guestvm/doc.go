// Package guestvm holds the tests that run the guest agent inside a real Linux guest
// under QEMU (see internal/testsupport/vmtest) and check that what it reports is the guest's own
// view: memory, CPU, disk, network, uptime, boot id, self-registration, vsock, and the
// deployment script. They skip, naming the missing piece, when QEMU, the guest assets
// (scripts/vm-assets.sh) or bin/guest-agent (make guest-agent) are missing.
package guestvm
