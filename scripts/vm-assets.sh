#!/usr/bin/env bash
# vm-assets.sh — provide what the QEMU guest tests (internal/testsupport/vmtest, test/guestvm) need:
#
#   * the host tools: qemu-system-x86_64, socat, xz, gcc and libc6-dev (installed with
#     apt-get when missing and root);
#   * a guest kernel, the modules the guest needs (virtio net/blk, vsock, ext4 for a root disk), and a static
#     busybox, taken from Debian packages with `apt-get download` + `dpkg -x` into
#     ${FCMON_CACHE:-$HOME/.cache/fcmon}/vm. Nothing is installed into the host's /boot.
#
# Idempotent: a second run finds the cache (and the tools) and returns at once.
# Usage: scripts/vm-assets.sh [--no-install] [--force]
#   --no-install  never call apt-get install for host tools (only report what is missing)
#   --force       rebuild the asset cache even when it looks complete
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # scripts/, for apt-get.sh

cache="${FCMON_CACHE:-$HOME/.cache/fcmon}/vm"
install_tools=1
force=0
for arg in "$@"; do
	case "$arg" in
	--no-install) install_tools=0 ;;
	--force) force=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "vm-assets: unknown argument $arg (expected --no-install or --force)" >&2; exit 2 ;;
	esac
done

# Modules the guest loads (ext4 asks for crc32c through the crypto API, so it is named);
# their dependencies are added from modules.dep, and modules
# built into the kernel (modules.builtin) are left out.
wanted_modules="virtio_pci virtio_net virtio_blk vsock vmw_vsock_virtio_transport vsock_loopback virtio_balloon crc32c_generic ext4"

log() { echo "vm-assets: $*" >&2; }

apt_updated=0
apt_update_once() {
	if [ "$apt_updated" = 0 ]; then
		"$here/apt-get.sh" update -qq
		apt_updated=1
	fi
}

ensure_tools() {
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	command -v socat >/dev/null || missing+=(socat)
	command -v xz >/dev/null || missing+=(xz-utils)
	# The Firecracker stand-in's LD_PRELOAD shim (internal/testsupport/fcstandin)
	# is a few lines of C built at first use.
	command -v gcc >/dev/null || missing+=(gcc)
	[ -f /usr/include/dlfcn.h ] || missing+=(libc6-dev)
	[ "${#missing[@]}" = 0 ] && return 0
	if [ "$install_tools" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		log "installing ${missing[*]}"
		apt_update_once
		"$here/apt-get.sh" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
	else
		log "missing host packages: ${missing[*]} (install with: apt-get install ${missing[*]})"
		return 1
	fi
}

cache_complete() {
	[ -f "$cache/READY" ] && [ -s "$cache/vmlinuz" ] && [ -x "$cache/busybox" ] &&
		[ -f "$cache/modules/order" ] && grep -qxF "wanted=$wanted_modules" "$cache/READY"
}

# download_pkg NAME DIR: fetch a .deb with apt-get download and unpack it into DIR.
download_pkg() {
	local name=$1 dir=$2
	(cd "$work" && "$here/apt-get.sh" download -qq "$name" >/dev/null 2>&1) || {
		apt_update_once
		(cd "$work" && "$here/apt-get.sh" download -qq "$name" >/dev/null)
	}
	dpkg -x "$work/${name}"_*.deb "$dir"
}

# kernel_package: the versioned package linux-image-amd64 depends on, e.g. linux-image-6.1.0-28-amd64.
kernel_package() {
	local pkg
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	if [ -z "$pkg" ]; then
		apt_update_once
		pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	fi
	[ -n "$pkg" ] || { log "cannot resolve linux-image-amd64 to a versioned kernel package"; return 1; }
	echo "$pkg"
}

# add_module NAME: copy module NAME and (first) the modules it depends on (the depends=
# field of its .modinfo) into $out/modules, decompressing .ko.xz/.ko.zst/.ko.gz, and append
# them to the load order. Reading .modinfo directly needs neither depmod nor modinfo.
add_module() {
	local name=$1 path tmp deps dep
	grep -qx "$name" "$out/modules/.seen" 2>/dev/null && return 0
	echo "$name" >>"$out/modules/.seen"
	path=$(find "$moddir/kernel" \( -name "$name.ko*" -o -name "${name//_/-}.ko*" \) -print | head -n1)
	if [ -z "$path" ]; then
		if sed 's/.*\///; s/\.ko$//; s/-/_/g' "$moddir/modules.builtin" | grep -qx "$name"; then
			return 0
		fi
		log "warning: module $name is neither a module nor built into $kver"
		return 0
	fi
	tmp="$work/$name.ko"
	case "$path" in
	*.ko.xz) xz -dc "$path" >"$tmp" ;;
	*.ko.zst) zstd -qdc "$path" >"$tmp" ;;
	*.ko.gz) gzip -dc "$path" >"$tmp" ;;
	*) cp "$path" "$tmp" ;;
	esac
	deps=$(grep -a -o 'depends=[^[:cntrl:]]*' "$tmp" | head -n1 | cut -d= -f2 | tr ',' ' ')
	for dep in $deps; do
		add_module "${dep//-/_}"
	done
	mv "$tmp" "$out/modules/$name.ko"
	echo "$name.ko" >>"$out/modules/order"
}

build_cache() {
	work=$(mktemp -d)
	out="$cache.tmp.$$"
	trap 'rm -rf "$work" "$out"' EXIT
	rm -rf "$out"
	mkdir -p "$out/modules" "$work/kernel" "$work/busybox"
	: >"$out/modules/order"

	local kpkg
	kpkg=$(kernel_package)
	log "fetching $kpkg and busybox-static into $cache"
	download_pkg "$kpkg" "$work/kernel"
	download_pkg busybox-static "$work/busybox"

	kver=$(basename "$(ls -d "$work"/kernel/lib/modules/*/ | head -n1)")
	moddir="$work/kernel/lib/modules/$kver"
	cp "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz"
	cp "$work/busybox/bin/busybox" "$out/busybox"
	chmod 0755 "$out/busybox"
	for m in $wanted_modules; do
		add_module "$m"
	done
	rm -f "$out/modules/.seen"
	printf 'kernel_package=%s\nkernel_version=%s\nmodules=%s\nwanted=%s\n' \
		"$kpkg" "$kver" "$(tr '\n' ' ' <"$out/modules/order")" "$wanted_modules" >"$out/READY"

	mkdir -p "$(dirname "$cache")"
	rm -rf "$cache"
	mv "$out" "$cache"
}

tools_ok=0
ensure_tools || tools_ok=1
if [ "$force" = 0 ] && cache_complete; then
	log "cached in $cache ($(sed -n 's/^kernel_version=//p' "$cache/READY"))"
else
	build_cache
	log "ready in $cache: $(tr '\n' ' ' <"$cache/READY")"
fi
exit "$tools_ok"
