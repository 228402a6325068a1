#!/bin/sh
# stress.sh [SECONDS] — the integration guide's stress loop, adapted for an isolated
# demo guest, for at most SECONDS (default 3600): a busy loop for 0.8 s, 20 MB
# written and read back, five pings in the background, half a second of rest. On
# one vCPU that keeps the guest 40–90 % busy.
#
# Changed from the guide: the pings go to 10.0.2.2, QEMU's own host address, which
# answers inside the QEMU process (the guide pinged 8.8.8.8; these guests reach
# nothing outside their VM). With a disk (/dev/vda) the 20 MB go to it, page cache
# dropped before reading back, so the disk charts move too; otherwise to /tmp.
duration=${1:-3600}
end=$(($(date +%s) + duration))
target=/tmp/test.dat
[ -b /dev/vda ] && target=/dev/vda
while [ "$(date +%s)" -lt "$end" ]; do
	yes >/dev/null &
	pid=$!
	sleep 0.8
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null

	dd if=/dev/zero of="$target" bs=1M count=20 conv=fsync 2>/dev/null
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
	dd if="$target" of=/dev/null bs=1M count=20 2>/dev/null
	[ "$target" = /tmp/test.dat ] && rm -f "$target"

	ping -c 5 -W 1 10.0.2.2 >/dev/null 2>&1 &
	sleep 0.5
done
