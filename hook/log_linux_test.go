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

// TestLogFileRotates: a log over MaxLogSize becomes PATH.1 and a new
// PATH takes the line; one under it is appended to.
func TestLogFileRotates(t *testing.T) {
	tests := []struct {
		name    string
		size    int64
		rotated bool
	}{
		{name: "under the bound", size: MaxLogSize},
		{name: "over the bound", size: MaxLogSize + 1, rotated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := config.Default()
			cfg.LogFile = filepath.Join(dir, "crhook.log")
			if err := os.WriteFile(cfg.LogFile+".1", []byte("older\n"), 0o640); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cfg.LogFile, nil, 0o640); err != nil || os.Truncate(cfg.LogFile, tt.size) != nil {
				t.Fatalf("make a log of %d bytes: %v", tt.size, err)
			}
			l := openLog(cfg, filepath.Join(dir, "no-syslog"))
			l.Record("createRuntime", Outcome{Container: "c1", OptedIn: true, Profile: "minimal"}, nil, time.Millisecond)
			l.Close()
			cur, _ := os.Stat(cfg.LogFile)
			old, _ := os.Stat(cfg.LogFile + ".1")
			if tt.rotated {
				if cur == nil || cur.Size() == 0 || cur.Size() > 4096 || old == nil || old.Size() != tt.size {
					t.Errorf("after rotation: %v, %v", cur, old)
				}
				return
			}
			if cur == nil || cur.Size() <= tt.size || old == nil || old.Size() != int64(len("older\n")) {
				t.Errorf("the line must be appended without rotating: %v, %v", cur, old)
			}
		})
	}
}
