#!/bin/sh
# make demo: one hardened container (uid 1000, no new privileges, /proc/sys
# read-only, runc's default spec) run twice with real runc: as is, then after
# `crhook patch`. Inside, `crhook verify` tries to restore a process tree at
# PIDs 500, 501 and 502 the way CRIU does, with clone3 set_tid.
set -eu
crhook=$(readlink -f "${1:-bin/crhook}")
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it starts real containers with runc)" >&2; exit 1; }
work=$(mktemp -d /tmp/crhook-demo.XXXXXX)
root="$work/runc-state"
cleanup() {
	runc --root "$root" delete --force crhook-demo-before >/dev/null 2>&1 || true
	runc --root "$root" delete --force crhook-demo-after >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

bundle="$work/bundle"
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev"
cp "$(command -v busybox)" "$bundle/rootfs/bin/busybox"
ln -s busybox "$bundle/rootfs/bin/sh"
cp "$crhook" "$bundle/rootfs/bin/crhook"
(cd "$bundle" && runc spec)
# Harden runc's default spec the way a cluster would: non-root, no new
# privileges, no terminal. /proc/sys is already in readonlyPaths.
python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
s = json.load(open(p))
s["process"].update(terminal=False, user={"uid": 1000, "gid": 1000}, noNewPrivileges=True,
                    args=["/bin/crhook", "verify", "--pids", "500,501,502"])
json.dump(s, open(p, "w"), indent="\t")
PY

banner() { printf '\n==== %s ====\n' "$1"; }

banner "1. hardened container, uid 1000, WITHOUT crhook"
runc --root "$root" run --bundle "$bundle" crhook-demo-before && before=0 || before=$?

banner "2. crhook patch --bundle (opt in, grant CAP_CHECKPOINT_RESTORE, register checks)"
"$crhook" patch --bundle "$bundle"

banner "3. the same container WITH crhook"
runc --root "$root" run --bundle "$bundle" crhook-demo-after && after=0 || after=$?

banner "result"
echo "without crhook: verify exit $before (PID control denied: clone3 set_tid gives EPERM)"
echo "with crhook:    verify exit $after (PID control granted: the tree landed on 500, 501, 502)"
echo "both times:     ns_last_pid is read-only (EROFS); /proc/sys stayed read-only"
[ "$before" = 1 ] && [ "$after" = 0 ]
