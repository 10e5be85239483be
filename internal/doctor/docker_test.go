package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crhook/crhook/install"
)

// TestDockerLine: doctor says whether annotations reach crhook on this
// Docker and which opt-in its crhook runtime entry gives.
func TestDockerLine(t *testing.T) {
	tests := []struct {
		name       string
		version    string
		daemonJSON string
		status     string
		want       string
	}{
		{name: "Debian's 20.10 with the runtime-level opt-in", version: "20.10.24", status: StatusOK,
			daemonJSON: `{"runtimes":{"crhook":{"path":"/usr/local/bin/crhook-runtime-minimal"}}}`, want: "runtime-level opt-in: --runtime crhook opts a container in with profile minimal"},
		{name: "20.10 with an annotation-only entry: nothing can opt in", version: "20.10.24", status: StatusWarn,
			daemonJSON: `{"runtimes":{"crhook":{"path":"/usr/local/bin/crhook-runtime"}}}`, want: "no container can opt in"},
		{name: "Docker 24 passes annotations", version: "24.0.7", status: StatusOK,
			daemonJSON: `{"runtimes":{"crhook":{"path":"/usr/local/bin/crhook-runtime"}}}`, want: "API 1.43+"},
		{name: "not installed", version: "20.10.24", status: StatusInfo, daemonJSON: `{"debug":true}`, want: "crhook is not installed for docker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "daemon.json")
			if err := os.WriteFile(path, []byte(tt.daemonJSON), 0o644); err != nil {
				t.Fatal(err)
			}
			l := docker(Line{Name: "docker", Version: tt.version}, install.Options{EngineConfig: path})
			if l.Status != tt.status || !strings.Contains(l.Detail, tt.want) {
				t.Errorf("%s: %s, want %s saying %q", l.Status, l.Detail, tt.status, tt.want)
			}
		})
	}
}
