package verify

import (
	"fmt"
	"io"
	"strings"

	"github.com/crhook/crhook/internal/probe"
)

// Status of one check.
const (
	StatusOK   = "ok"   // what restore needs is there
	StatusFail = "fail" // restore will not work because of this
	StatusNote = "note" // worth knowing; does not decide the verdict
)

// Check is one line of the report.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// Drill is the restore drill's result.
type Drill struct {
	// Mode is "tree" (parent placed first, children under it) or "single".
	Mode       string            `json:"mode"`
	Parent     *probe.Placement  `json:"parent,omitempty"`
	Placements []probe.Placement `json:"placements"`
	// MicrosPerProcess is the wall time per placed process.
	MicrosPerProcess float64 `json:"micros_per_process"`
}

// Report is what verify prints; with --json it is the stable interface:
// fields are only ever added.
type Report struct {
	// OK is true when a process tree can be restored at chosen PIDs here.
	OK      bool    `json:"ok"`
	Summary string  `json:"summary"`
	UID     int     `json:"uid"`
	Checks  []Check `json:"checks"`
	Drill   Drill   `json:"drill"`
	// Restore is set by --images: the restore preflight.
	Restore *Restore `json:"restore,omitempty"`
}

// WriteText prints the report for a person.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-18s %s\n", c.Status, c.Name, c.Detail)
	}
	verdict := "FAIL"
	if r.OK {
		verdict = "OK"
	}
	fmt.Fprintf(&b, "\n%s: %s\n", verdict, r.Summary)
	_, err := io.WriteString(w, b.String())
	return err
}
