#!/bin/sh
# make image: a small container image with crhook, crhook-hook and the
# busybox applets
# the Kubernetes installer DaemonSet uses, built without a registry or a
# Dockerfile base: a rootfs tarball imported with podman.
#   scripts/image.sh BIN/crhook NAME:TAG
set -eu
crhook=$(readlink -f "$1")
name=$2
work=$(mktemp -d /tmp/crhook-image.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
root="$work/rootfs"
mkdir -p "$root/bin" "$root/usr/local/bin" "$root/tmp" "$root/etc/crhook-config" "$root/proc" "$root/sys" "$root/dev"
chmod 1777 "$root/tmp"
cp "$(command -v busybox)" "$root/bin/busybox"
for applet in sh cat cp grep mkdir nsenter sleep tee true; do
	ln -s busybox "$root/bin/$applet"
done
cp "$crhook" "$root/usr/local/bin/crhook"
cp "$(dirname "$crhook")/crhook-hook" "$root/usr/local/bin/crhook-hook"
ln -s crhook-hook "$root/usr/local/bin/crhook-runtime"
tar -C "$root" -cf "$work/rootfs.tar" .
podman import \
	--change 'ENV PATH=/usr/local/bin:/bin' \
	--change 'CMD ["/usr/local/bin/crhook", "help"]' \
	"$work/rootfs.tar" "$name" >/dev/null
echo "built $name; push it to your registry and set it in deploy/kubernetes/*.yaml"
