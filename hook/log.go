package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/crhook/crhook/internal/config"
	"github.com/crhook/crhook/internal/errkind"
)

// SyslogSocket is where both syslog daemons and journald listen.
const SyslogSocket = "/dev/log"

// Log writes one structured line per stage run: to the admin's log file
// (JSON lines) when configured, and to syslog or journald when the host
// has one. A hook has no terminal, so this is where its story is kept.
// Logging never fails a hook: a log that cannot be written is noted in
// the remaining sinks and otherwise ignored.
//
// Neither sink may hold a container start: the syslog socket is
// non-blocking, and a line it cannot take at once is dropped and the
// drop noted in the file's line, so drops can be counted there.
type Log struct {
	file    slog.Handler
	syslog  *syslogHandler
	closers []io.Closer
	notes   []any
}

// OpenLog opens the sinks cfg names; it never fails.
func OpenLog(cfg config.Config) *Log {
	return openLog(cfg, SyslogSocket)
}

func openLog(cfg config.Config, socket string) *Log {
	l := &Log{}
	if cfg.LogFile != "" {
		f, err := openLogFile(cfg.LogFile)
		if err != nil {
			l.notes = append(l.notes, slog.String("log_file", err.Error()))
		} else {
			l.closers = append(l.closers, f)
			l.file = slog.NewJSONHandler(f, nil)
		}
	}
	if _, err := os.Stat(socket); err != nil {
		// Common in containers and minimal hosts; say so once, quietly.
		l.notes = append(l.notes, slog.String("syslog", "absent"))
	} else if w, err := dialSyslog(socket, "crhook"); err != nil {
		l.notes = append(l.notes, slog.String("syslog", err.Error()))
	} else {
		l.closers = append(l.closers, w)
		l.syslog = newSyslogHandler(w)
	}
	return l
}

// MaxLogSize is the size at which the log file is rotated: it becomes
// PATH.1, replacing the one before, and a new PATH starts. Every
// container start adds a few lines, and a default log must not fill a
// node's disk.
const MaxLogSize = 16 << 20

// openLogFile opens path to append, rotating it first when it is over
// MaxLogSize. O_NONBLOCK: a log_file that is a FIFO nobody reads must
// not hold the hook at open (ENXIO instead); regular files ignore it.
func openLogFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o640)
	if err != nil || !rotate(f, path) {
		return f, err
	}
	f.Close()
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o640)
}

// rotate renames the regular file f, open at path, to path.1 when it is
// over MaxLogSize. Hooks run side by side: only the one that takes f's
// lock rotates, and only while path still names f, so no two renames
// ever take turns over PATH.1. It reports whether it renamed.
func rotate(f *os.File, path string) bool {
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() || info.Size() <= MaxLogSize {
		return false
	}
	fd := int(f.Fd())
	if syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return false // another hook is rotating it; append to this one
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	named, err := os.Stat(path)
	if err != nil || !os.SameFile(info, named) {
		return false
	}
	return os.Rename(path, path+".1") == nil
}

// Record logs the stage's one line.
func (l *Log) Record(stage string, out Outcome, err error, took time.Duration) {
	if l.syslog == nil && l.file == nil {
		return
	}
	level, result := slog.LevelInfo, "ok"
	attrs := []any{
		slog.String("stage", stage),
		slog.String("container", out.Container),
		slog.Bool("opted_in", out.OptedIn),
	}
	if out.Profile != "" {
		attrs = append(attrs, slog.String("profile", out.Profile))
	}
	if len(out.Changes) > 0 {
		attrs = append(attrs, slog.Any("changes", out.Changes))
	}
	if len(out.Notes) > 0 {
		attrs = append(attrs, slog.Any("notes", out.Notes))
	}
	switch {
	case errors.Is(err, errkind.ErrBadInput):
		level, result = slog.LevelError, "bad-input"
	case err != nil:
		level, result = slog.LevelError, "refused"
	case out.Warning != "":
		level, result = slog.LevelWarn, "warning"
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", OneLine(err)))
	}
	if out.Warning != "" {
		attrs = append(attrs, slog.String("warning", out.Warning))
	}
	attrs = append(attrs, slog.String("result", result), slog.Float64("ms", float64(took.Microseconds())/1000))
	attrs = append(attrs, l.notes...)
	rec := slog.NewRecord(time.Now(), level, "crhook "+stage, 0)
	rec.Add(attrs...)
	ctx := context.Background()
	if l.syslog != nil {
		if err := l.syslog.Handle(ctx, rec.Clone()); err != nil {
			rec.Add(slog.String("syslog", "dropped: "+err.Error()))
		}
	}
	if l.file != nil {
		l.file.Handle(ctx, rec)
	}
}

// Close closes the sinks.
func (l *Log) Close() {
	for _, c := range l.closers {
		c.Close()
	}
}

// OneLine joins a multi-line error (errors.Join) into one line, the form
// a runtime shows its user, and escapes every character a terminal would
// act on. Messages quote what came from input already; this is the last
// guard before a terminal or a log line.
func OneLine(err error) string {
	line := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	if !strings.ContainsFunc(line, unprintable) {
		return line
	}
	var b strings.Builder
	for _, r := range line {
		switch {
		case !unprintable(r):
			b.WriteRune(r)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func unprintable(r rune) bool { return r != ' ' && !unicode.IsPrint(r) }

// syslogHandler formats records as text and sends each at its level.
type syslogHandler struct {
	w    *syslogConn
	mu   *sync.Mutex
	buf  *bytes.Buffer
	text slog.Handler
}

func newSyslogHandler(w *syslogConn) *syslogHandler {
	buf := &bytes.Buffer{}
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{} // syslog stamps its own time
		}
		return a
	}
	return &syslogHandler{w: w, mu: &sync.Mutex{}, buf: buf, text: slog.NewTextHandler(buf, &slog.HandlerOptions{ReplaceAttr: noTime})}
}

func (h *syslogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.text.Enabled(ctx, level)
}

func (h *syslogHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.text.Handle(ctx, r); err != nil {
		return fmt.Errorf("format syslog line: %w", err)
	}
	msg := strings.TrimSuffix(h.buf.String(), "\n")
	switch {
	case r.Level >= slog.LevelError:
		return h.w.send(severityErr, msg)
	case r.Level >= slog.LevelWarn:
		return h.w.send(severityWarning, msg)
	}
	return h.w.send(severityInfo, msg)
}

func (h *syslogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.text = h.text.WithAttrs(attrs)
	return &c
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.text = h.text.WithGroup(name)
	return &c
}
