package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// tcpAppScript, run as root on the host in a network namespace of its
// own, starts a listener and, through crhook drop-caps (so the app holds
// no capability and only the socket stands between it and a restore),
// a client holding an established connection to it, and dumps the
// client's tree with root criu and $DUMP_ARGS (--tcp-established or
// --tcp-close), as a privileged checkpointer would. It prints app=PID and
// dump=CODE.
const tcpAppScript = `set -u
cd /
ip link set lo up
setsid busybox sh -c 'busybox sleep 1000 | busybox nc -l -p 8080' </dev/null >/dev/null 2>&1 &
listener=$!
busybox sleep 0.3
setsid "$CRHOOK" drop-caps -- busybox sh -c 'busybox sleep 1000 | busybox nc 127.0.0.1 8080' </dev/null >/dev/null 2>&1 &
app=$!
busybox sleep 0.5
echo "app=$app"
"$CRIU" dump $DUMP_ARGS -t $app -D "$IMAGES" -o dump.log -v4
echo "dump=$?"
kill -9 -- -$listener
`

// TestCRIUConnections: a dump holding an established TCP connection
// needs CAP_NET_ADMIN to restore (TCP repair), which no crhook profile
// grants. The preflight names the connection and the capability before
// criu runs, and criu then fails, in a root crhook container under
// Docker's default seccomp profile. Dumped with --tcp-close, the same
// tree restores there: criu shuts the connection down instead.
func TestCRIUConnections(t *testing.T) {
	criu := requireCRIU(t)
	for _, tc := range []struct {
		name, criuArgs string
		refused        bool
	}{
		{name: "established connections need CAP_NET_ADMIN", criuArgs: "--tcp-established", refused: true},
		{name: "connections dumped closed restore", criuArgs: "--tcp-close"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			images := imagesDir(t)
			// The restore runs as root without CAP_DAC_OVERRIDE: root's directory.
			mustDo(t, os.Chown(images, 0, 0))
			env := []string{"CRHOOK=" + crhookBin, "CRIU=" + criu, "IMAGES=" + images, "DUMP_ARGS=" + tc.criuArgs}
			d := parseDump(t, runEnv(t, env, nil, "unshare", "--net", "sh", "-c", tcpAppScript))
			if d.Code != 0 {
				t.Fatalf("root criu dump %s failed:\n%s", tc.criuArgs, tail(criuLog(t, images, "dump.log"), 3000))
			}
			b := criuBundle(t, criu, images, "/bin/criu-restore", strconv.Itoa(d.App))
			// The dumped tree ran busybox from the host's /usr/bin.
			busybox := filepath.Join(b.Dir, "rootfs", "usr", "bin", "busybox")
			mustDo(t, os.MkdirAll(filepath.Dir(busybox), 0o755))
			copyFile(t, requireTool(t, "busybox"), busybox, 0o755)
			b.Edit(t, func(s *specs.Spec) {
				s.Process.User = specs.User{UID: 0, GID: 0}
				s.Process.Env = append(s.Process.Env, "CRIU_RESTORE_ARGS="+tc.criuArgs)
				s.Linux.Seccomp = dockerSeccomp(t, s)
			})
			configPath, _ := writeConfig(t, "")
			grantByPatch(configPath, "minimal")(t, b)
			rr := parseRestore(t, runcRun(t, b))
			t.Logf("preflight: %s", rr.Report.Summary)
			if !tc.refused {
				if rr.Preflight != 0 || rr.Restore != 0 || !rr.Alive {
					t.Fatalf("preflight %d (%s), restore %d, alive %v; want 0, 0, alive\n%s", rr.Preflight, rr.Report.Summary, rr.Restore, rr.Alive, tail(criuLog(t, images, "restore.log"), 3000))
				}
				if log := criuLog(t, images, "restore.log"); !strings.Contains(log, "Restoring TCP connection") {
					t.Errorf("criu restored no connection:\n%s", tail(log, 2000))
				}
				return
			}
			assertRefused(t, rr, images, "the dump holds a connected TCP socket (127.0.0.1:", "Can't turn TCP repair mode ON")
			if !strings.Contains(rr.Report.Summary, "CAP_NET_ADMIN") || strings.Contains(rr.Report.Summary, "missing here") {
				t.Errorf("the preflight must name CAP_NET_ADMIN, and the connection alone: %s", rr.Report.Summary)
			}
		})
	}
}
