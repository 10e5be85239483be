package hook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crhook/crhook/internal/config"
)

// TestLogNeverBlocksOnStalledSyslog: a syslog daemon that stops reading
// (a stalled journald) must not hold a hook. Lines the socket cannot
// take are dropped, and each drop is noted in the file's line.
func TestLogNeverBlocksOnStalledSyslog(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "log")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: socket}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.LogFile = filepath.Join(dir, "crhook.log")

	const runs = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < runs; i++ {
			l := openLog(cfg, socket)
			l.Record("poststart", Outcome{Container: "c1", OptedIn: true}, nil, time.Millisecond)
			l.Close()
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("logging blocked on a syslog socket nobody reads")
	}
	data, err := os.ReadFile(cfg.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != runs {
		t.Fatalf("%d lines in the file, want one per run (%d)", len(lines), runs)
	}
	dropped := strings.Count(string(data), `"syslog":"dropped: `)
	if dropped == 0 {
		t.Fatalf("no drop noted though the socket was never read:\n%s", lines[len(lines)-1])
	}
	t.Logf("%d of %d lines dropped by the stalled socket and noted in the file", dropped, runs)
}

// TestLogFileFIFODoesNotBlock: a log_file that is a FIFO nobody reads
// is noted and skipped, not waited on.
func TestLogFileFIFODoesNotBlock(t *testing.T) {
	cfg := config.Default()
	cfg.LogFile = filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(cfg.LogFile, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan *Log, 1)
	go func() { done <- openLog(cfg, "/nonexistent/log") }()
	select {
	case l := <-done:
		l.Record("createRuntime", Outcome{Container: "c1"}, nil, 0)
		l.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("opening a FIFO log_file blocked")
	}
}
