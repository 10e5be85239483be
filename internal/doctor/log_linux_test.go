package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogDestinations(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "log")
	if err := os.WriteFile(socket, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	noSocket := filepath.Join(dir, "no-log")
	file := filepath.Join(dir, "crhook.log")
	tests := []struct {
		name, file, socket string
		status             string
		detail             string
	}{
		{name: "a file root can create", file: file, socket: noSocket, status: StatusOK, detail: "recorded in " + file},
		{name: "a file and syslog", file: file, socket: socket, status: StatusOK, detail: "and syslog (" + socket + ")"},
		{name: "log_file off, syslog there", file: "", socket: socket, status: StatusOK, detail: "log_file is off; each hook run is recorded in syslog"},
		{name: "log_file off, no syslog", file: "", socket: noSocket, status: StatusWarn, detail: "recorded nowhere"},
		{name: "a file in no directory, no syslog", file: "/nonexistent/crhook.log", socket: noSocket, status: StatusWarn, detail: "cannot be written"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := logDestinations(tt.file, tt.socket)
			if l.Status != tt.status || !strings.Contains(l.Detail, tt.detail) {
				t.Errorf("%+v, want %s saying %q", l, tt.status, tt.detail)
			}
			if _, err := os.Stat(file); err == nil {
				t.Error("doctor created the log file")
			}
		})
	}
}
