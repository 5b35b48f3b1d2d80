#!/usr/bin/env bash
# Runs the agent on a real cgroup v2 node: boots Debian's cloud kernel with
# cgroup v1 switched off (cgroup_no_v1=all) in QEMU, under software
# emulation (TCG: this script may itself run in a VM without nested
# virtualisation), and runs the checks of internal/guest inside it against a
# real containerd, with Debian's runc and with a current runc side by side.
#
#   sudo ./scripts/guest-cgroupv2.sh        # about 3-5 minutes warm
#
# The kernel (unpacked from its Debian package, nothing installed to /boot)
# and the current runc (built from its Go module) are cached by version in
# FLEETSCOPE_TOOLS, like the other tools of the tests. Set
# FLEETSCOPE_GUEST_KEEP=1 to keep the work directory (disk image, serial log).
set -euo pipefail

# The Go toolchain the project builds with (go.mod says go 1.27); the go
# command fetches it from the module proxy once per machine.
export GOTOOLCHAIN=go1.27.3

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x /usr/local/go/bin/go && ":$PATH:" != *":/usr/local/go/bin:"* ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
if ((EUID != 0)); then
	echo "guest-cgroupv2.sh: run it as root (it builds a disk image of root-owned files)" >&2
	exit 1
fi

TOOLS=${FLEETSCOPE_TOOLS:-/var/cache/fleetscope/tools}
# A runc that writes cgroup v2 weight by the current formula (1.3.2 and
# later: one CPU is weight 100); Debian 12's runc 1.1 writes it by the old
# one (one CPU is 39).
RUNC_VERSION=v1.5.3
KERNEL_META=linux-image-cloud-amd64
# Modules the guest loads, dependencies first: the virtio disk, overlayfs
# for containerd's snapshots, veth for the pod's network.
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk overlay veth)

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v cpio >/dev/null || need+=(cpio)
command -v ip >/dev/null || need+=(iproute2)
[[ -x /bin/busybox ]] || need+=(busybox-static)
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
if ((${#need[@]})); then
	echo "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi

# The kernel: the cloud flavour (virtio, no hardware drivers), whatever
# version the meta-package names today, cached per version.
kpkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
if [[ -z $kpkg ]]; then
	echo "guest-cgroupv2.sh: no $KERNEL_META in the apt index (apt-get update?)" >&2
	exit 1
fi
kver=${kpkg#linux-image-}
KDIR="$TOOLS/guest-kernel-$kver"
if [[ ! -f $KDIR/vmlinuz ]]; then
	echo "fetching $kpkg (once per kernel version)"
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -q "$kpkg" >/dev/null 2>&1) || {
		echo "guest-cgroupv2.sh: apt-get download $kpkg failed" >&2
		exit 1
	}
	dpkg-deb -x "$tmp"/*.deb "$tmp/root"
	mkdir -p "$KDIR.new/modules"
	cp "$tmp/root/boot/vmlinuz-$kver" "$KDIR.new/vmlinuz"
	for m in "${MODULES[@]}"; do
		ko=$(find "$tmp/root/lib/modules/$kver" -name "$m.ko" | head -1)
		[[ -n $ko ]] || {
			echo "guest-cgroupv2.sh: module $m not in $kpkg" >&2
			exit 1
		}
		cp "$ko" "$KDIR.new/modules/"
	done
	rm -rf "$tmp" "$KDIR"
	mv "$KDIR.new" "$KDIR"
fi

RUNC_DIR="$TOOLS/runc-$RUNC_VERSION"
if [[ ! -x $RUNC_DIR/runc ]]; then
	echo "building runc $RUNC_VERSION (once per version)"
	# cgo for runc's nsenter; no seccomp tag, so no libseccomp-dev: the
	# containers of the checks ask for no seccomp profile.
	CGO_ENABLED=1 GOBIN="$RUNC_DIR.new" go install -trimpath -ldflags "-s -w" "github.com/opencontainers/runc@$RUNC_VERSION"
	rm -rf "$RUNC_DIR"
	mv "$RUNC_DIR.new" "$RUNC_DIR"
fi

work=$(mktemp -d /tmp/fleetscope-guest.XXXXXX)
cleanup() {
	if [[ ${FLEETSCOPE_GUEST_KEEP:-} == 1 ]]; then
		echo "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/sbin,lib64,etc,proc,sys,dev,run,tmp,var/lib,fleetscope}

# copybin copies a binary and the shared libraries it loads.
copybin() {
	local src=$1 dst=$2 lib
	install -D -m 0755 "$src" "$root$dst"
	while read -r lib; do
		[[ -e $root$lib ]] || install -D -m 0755 "$lib" "$root$lib"
	done < <(ldd "$src" 2>/dev/null | grep -oE '/[^ ]+' || true)
}

echo "building the agent and the guest checks (static)"
CGO_ENABLED=0 go build -trimpath -o "$root/usr/bin/fleetscope" ./cmd/fleetscope
CGO_ENABLED=0 go test -c -tags guest -trimpath -o "$root/fleetscope/guest.test" ./internal/guest

cp /bin/busybox "$root/bin/busybox"
copybin "$(command -v containerd)" /usr/bin/containerd
copybin "$(command -v ctr)" /usr/bin/ctr
copybin "$(command -v containerd-shim-runc-v2)" /usr/bin/containerd-shim-runc-v2
copybin "$(command -v runc)" /usr/sbin/runc
copybin "$RUNC_DIR/runc" /usr/local/sbin/runc-current
copybin "$(command -v ip)" /sbin/ip
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
echo 'hosts: files' >"$root/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' >"$root/etc/hosts"

# The real root's init: filesystems, every controller delegated from the
# root, then the checks; the exit code goes to the serial console for this
# script to read.
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "+cpu +cpuset +io +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control
ip link set lo up
hostname guest
echo "guest: $(uname -r), $(nproc) CPUs, cgroup controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
cd /fleetscope
FLEETSCOPE_INTEGRATION=1 ./guest.test -test.v -test.timeout 8m
echo "fleetscope-guest-exit: $?"
sync
poweroff -f
EOF
chmod 0755 "$root/init"

# The initramfs only loads the disk's driver and hands over to the disk.
initrd="$work/initrd"
mkdir -p "$initrd"/{bin,dev,proc,sys,newroot,modules}
cp /bin/busybox "$initrd/bin/busybox"
cp "$KDIR"/modules/*.ko "$initrd/modules/"
{
	echo '#!/bin/busybox sh'
	echo '/bin/busybox mount -t devtmpfs devtmpfs /dev'
	echo '/bin/busybox mount -t proc proc /proc'
	for m in "${MODULES[@]}"; do
		echo "/bin/busybox insmod /modules/$m.ko"
	done
	echo 'for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; /bin/busybox sleep 0.2; done'
	echo '/bin/busybox mount -t ext4 /dev/vda /newroot || { echo "guest: no root disk"; /bin/busybox poweroff -f; }'
	echo '/bin/busybox umount /proc /dev'
	echo 'exec /bin/busybox switch_root /newroot /init'
} >"$initrd/init"
chmod 0755 "$initrd/init"
(cd "$initrd" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio"

# The disk: the root filesystem, and where containerd keeps its snapshots
# and the containers write, so that io.stat has a real block device.
truncate -s 3G "$work/disk.img"
mkfs.ext4 -q -F -E lazy_itable_init=0 -d "$root" "$work/disk.img"

echo "booting $kver with cgroup v1 off (QEMU, software emulation)"
log="$work/serial.log"
start=$SECONDS
timeout 900 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 2G -smp 2 \
	-nographic -no-reboot -nic none \
	-kernel "$KDIR/vmlinuz" -initrd "$work/initrd.cpio" \
	-append "console=ttyS0 cgroup_no_v1=all quiet panic=-1 rdinit=/init" \
	-drive "file=$work/disk.img,if=virtio,format=raw" </dev/null | tee "$log" | sed -u 's/\r$//'
rc=$(sed -n 's/^fleetscope-guest-exit: \([0-9]*\).*/\1/p' "$log" | tr -d '\r' | tail -1)
echo "guest step took $((SECONDS - start)) s"
if [[ -z $rc ]]; then
	echo "guest-cgroupv2.sh: the guest stopped without a result (see the serial log above)" >&2
	exit 1
fi
exit "$rc"
