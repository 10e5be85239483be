package hook

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Syslog severities (RFC 3164); crhook logs as facility daemon.
const (
	facilityDaemon  = 3 << 3
	severityErr     = 3
	severityWarning = 4
	severityInfo    = 6
)

// syslogConn sends messages to the local syslog socket as datagrams, the
// way log/syslog does for /dev/log, without pulling the net package into
// a binary that starts on every container start. The socket is
// non-blocking: a stalled journald must not hold a container start, so
// a message the socket cannot take at once fails with EAGAIN.
type syslogConn struct {
	fd  int
	tag string
}

func dialSyslog(path, tag string) (*syslogConn, error) {
	var lastErr error
	// journald and most daemons take datagrams; some take a stream.
	for _, typ := range []int{unix.SOCK_DGRAM, unix.SOCK_STREAM} {
		fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return nil, fmt.Errorf("syslog socket: %w", err)
		}
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
			unix.Close(fd)
			lastErr = err
			continue
		}
		return &syslogConn{fd: fd, tag: tag}, nil
	}
	return nil, fmt.Errorf("connect %s: %w", path, lastErr)
}

func (c *syslogConn) send(severity int, msg string) error {
	line := fmt.Sprintf("<%d>%s %s[%d]: %s\n", facilityDaemon|severity, time.Now().Format(time.Stamp), c.tag, os.Getpid(), msg)
	if _, err := unix.Write(c.fd, []byte(line)); err != nil {
		return fmt.Errorf("write syslog: %w", err)
	}
	return nil
}

func (c *syslogConn) Close() error { return unix.Close(c.fd) }
