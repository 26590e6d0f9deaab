#!/bin/busybox sh
# PID 1 of the test VM (copied into the initramfs as /init by make-initramfs.sh).
# Loads the 9p and ublk modules, chroots into the host's root (shared read-only over virtio-9p),
# runs the job that run-in-vm.sh left in the control share, records its exit status there and
# powers off. The markers below are how run-in-vm.sh tells the job's output from the boot noise.

/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /newroot
/bin/busybox --install -s
mount -t devtmpfs devtmpfs /dev
exec 0</dev/null 1>/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

die() {
  echo "ublk-vm: $*"
  echo "===ublkvm-end 125==="
  poweroff -f
}

ctl=""
results=""
tmp_dirs=""
net=""
net_ip=10.0.2.15/24
net_gw=10.0.2.2
for word in $(cat /proc/cmdline); do
  case "$word" in
    ublkvm_ctl=*) ctl="${word#*=}" ;;
    ublkvm_results=*) results="${word#*=}" ;;
    ublkvm_tmp=*) tmp_dirs="${word#*=}" ;;
    ublkvm_net=*) net="${word#*=}" ;;
    ublkvm_ip=*) net_ip="${word#*=}" ;;
    ublkvm_gw=*) net_gw="${word#*=}" ;;
  esac
done
[ -n "$ctl" ] || die "no ublkvm_ctl= on the kernel command line"

# load-order (from fetch-kernel.sh) lists dependencies first: netfs, 9pnet, ..., ublk_drv, ext4.
# Modules tagged "net" (virtio_net and its dependencies) only for run-in-vm.sh --net.
while read -r m tag; do
  [ "$tag" = net ] && [ -z "$net" ] && continue
  insmod "/modules/$m.ko" && continue
  [ "$tag" = optional ] || die "insmod $m.ko failed"
  echo "ublk-vm: optional module $m did not load"
done </modules/load-order

# --net: the NIC on qemu's user network (slirp: the guest is 10.0.2.15, the host's loopback is
# 10.0.2.2). No DHCP: slirp's addresses are fixed. --net tap: run-in-vm.sh gives the guest's
# address and the host's (ublkvm_ip=, ublkvm_gw=) on the tap's /30. The kernel names the one NIC eth0; whatever it
# is called, it is the one interface besides lo.
if [ -n "$net" ]; then
  ip link set lo up || die "cannot bring up lo"
  nic=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    for path in /sys/class/net/*; do
      [ -e "$path" ] && [ "${path##*/}" != lo ] && { nic="${path##*/}"; break; }
    done
    [ -n "$nic" ] && break
    sleep 0.2
  done
  [ -n "$nic" ] || die "--net: no network interface appeared (virtio_net loaded?)"
  ip link set "$nic" up || die "cannot bring up $nic"
  ip addr add "$net_ip" dev "$nic" || die "cannot give $nic $net_ip"
  ip route add default via "$net_gw" dev "$nic" || die "cannot add the default route via $net_gw"
fi

ninep="trans=virtio,version=9p2000.L,msize=512000"
root=/newroot
# cache=loose: the host root is read-only for the guest's lifetime, so caching its pages is safe
# and makes exec and fio start much faster over 9p.
# Mounted once (a virtio-9p tag cannot be mounted twice) and bound as the chroot, so that the
# host's own /tmp stays reachable at /hostro/tmp under the guest's fresh /tmp (below).
mkdir -p /hostro
mount -t 9p -o "$ninep,ro,cache=loose" hostroot /hostro || die "cannot mount the host root over 9p"
mount --bind /hostro "$root" || die "cannot bind the host root"
mount -t proc proc "$root/proc" || die "cannot mount /proc in the chroot"
mount -t sysfs sysfs "$root/sys" || die "cannot mount /sys in the chroot"
mount -t devtmpfs devtmpfs "$root/dev" || die "cannot mount devtmpfs in the chroot"
mkdir -p "$root/dev/pts" "$root/dev/shm"
# What udev would add: bash process substitution needs /dev/fd.
ln -sf /proc/self/fd "$root/dev/fd"
ln -sf /proc/self/fd/0 "$root/dev/stdin"
ln -sf /proc/self/fd/1 "$root/dev/stdout"
ln -sf /proc/self/fd/2 "$root/dev/stderr"
mount -t devpts devpts "$root/dev/pts"
mount -t tmpfs tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp" || die "cannot mount /tmp in the chroot"
# The fresh /tmp would hide a checkout that lives under the host's /tmp (CI clones anywhere):
# show the host /tmp directories the job needs (run-in-vm.sh names them) through it, read-only.
for name in $(echo "$tmp_dirs" | tr , ' '); do
  entry="/hostro/tmp/$name"
  [ -d "$entry" ] && [ ! -L "$entry" ] || continue
  mkdir -p "$root/tmp/$name" && mount --bind "$entry" "$root/tmp/$name"
done
mount -t tmpfs -o mode=755 tmpfs "$root/run" || die "cannot mount /run in the chroot"
# The writable shares appear at their host paths; mkdir covers paths under the fresh /tmp.
mkdir -p "$root$ctl"
mount -t 9p -o "$ninep" vmctl "$root$ctl" || die "cannot mount the control share at $ctl"
if [ -n "$results" ]; then
  mkdir -p "$root$results"
  mount -t 9p -o "$ninep" results "$root$results" || die "cannot mount the results share at $results"
fi
[ -e /dev/ublk-control ] || die "ublk_drv loaded but /dev/ublk-control is missing"

stty -onlcr </dev/console 2>/dev/null
read -r up _ </proc/uptime
echo "===ublkvm-start uptime=$up==="
chroot "$root" /bin/bash "$ctl/job.sh" </dev/null
rc=$?
echo "$rc" >"$root$ctl/status"
echo "===ublkvm-end $rc==="
sync
poweroff -f
