package doctor

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Status of a line.
const (
	StatusOK   = "ok"
	StatusWarn = "warn" // works, but something is worth fixing
	StatusFail = "fail" // opted-in containers will not work because of this
	StatusInfo = "info" // not installed or not applicable; nothing is wrong
)

// Line is one finding.
type Line struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`
	Version string `json:"version,omitempty"`
	// Runtime is the OCI runtime an engine runs containers with.
	Runtime *Runtime `json:"runtime,omitempty"`
}

// Runtime is an OCI runtime program and the version it reports.
type Runtime struct {
	Path    string `json:"path"`
	Version string `json:"version,omitempty"`
	// Error says why the program could not be found or asked.
	Error string `json:"error,omitempty"`
}

func (r Runtime) String() string {
	switch {
	case r.Error != "":
		return r.Error
	case r.Version == "":
		return r.Path
	}
	return filepath.Base(r.Path) + " " + r.Version + " (" + r.Path + ")"
}

// Report is what doctor prints; --json prints it as is.
type Report struct {
	// Ready is true when containers opted in on this host would work.
	Ready bool   `json:"ready"`
	Lines []Line `json:"lines"`
}

// ready: no line failed and at least one OCI runtime is usable.
func ready(lines []Line) bool {
	runtime := false
	for _, l := range lines {
		if l.Status == StatusFail {
			return false
		}
		if (l.Name == "runc" || l.Name == "crun") && l.Status == StatusOK {
			runtime = true
		}
	}
	return runtime
}

// NotReady says what to fix on a host that is not ready.
func (r Report) NotReady() string {
	for _, l := range r.Lines {
		if l.Status == StatusFail {
			return "fix the lines marked fail"
		}
	}
	return "neither runc nor crun is usable; install one (apt-get install runc)"
}

// WriteText prints the report for a person.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, l := range r.Lines {
		detail := l.Detail
		if l.Version != "" {
			detail = l.Version + ": " + detail
		}
		if l.Runtime != nil {
			detail += "; runs containers with " + l.Runtime.String()
		}
		fmt.Fprintf(&b, "%-4s  %-20s %s\n", l.Status, l.Name, detail)
		if l.Fix != "" {
			fmt.Fprintf(&b, "      %-20s fix: %s\n", "", l.Fix)
		}
	}
	if r.Ready {
		b.WriteString("\nREADY: containers opted in on this host can restore with chosen PIDs\n")
	} else {
		b.WriteString("\nNOT READY: " + r.NotReady() + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
