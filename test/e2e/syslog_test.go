package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// syslogScript runs a real syslog daemon (busybox syslogd) on /dev/log in
// a private mount namespace, runs the crhook command given as arguments
// with the state file on stdin, and stops the daemon. The host's /dev is
// untouched: the tmpfs over it exists only in that namespace.
const syslogScript = `set -e
mount --make-rprivate /
mount -t tmpfs tmpfs /dev
mknod -m 666 /dev/null c 1 3
busybox syslogd -n -O "$MESSAGES" &
daemon=$!
i=0
while [ ! -S /dev/log ] && [ $i -lt 500 ]; do i=$((i+1)); busybox usleep 10000; done
set +e
"$@" < "$STATE"
rc=$?
kill $daemon
wait $daemon
exit $rc
`

// TestSyslog: where a syslog daemon listens on /dev/log, each hook run
// sends it the same one line it writes to the log file.
func TestSyslog(t *testing.T) {
	requireRoot(t)
	requireTool(t, "busybox")
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	if err := os.WriteFile(state, []byte(`{"ociVersion":"1.0.2","id":"syslog-test","status":"running","pid":1,"bundle":"/"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	messages := filepath.Join(dir, "messages")
	configPath, logPath := writeConfig(t, "")
	r := runEnv(t, []string{"MESSAGES=" + messages, "STATE=" + state}, nil,
		"unshare", "-m", "sh", "-c", syslogScript, "syslog-test", crhookBin, "poststart", "--config", configPath)
	if r.Code != 0 {
		t.Fatalf("poststart under syslogd: %s", r)
	}
	data, err := os.ReadFile(messages)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `crhook[`) || !strings.Contains(string(data), "stage=poststart container=syslog-test") {
		t.Fatalf("syslog did not get the line:\n%s", data)
	}
	lines := readLog(t, logPath)
	if len(lines) != 1 || lines[0].Container != "syslog-test" {
		t.Fatalf("log file: %+v", lines)
	}
	if raw, _ := os.ReadFile(logPath); strings.Contains(string(raw), `"syslog"`) {
		t.Errorf("with syslog present the line must not note its absence: %s", raw)
	}
}
