package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/crhook/crhook/internal/cli"
	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/internal/verify"
)

// errVerifyFailed is verify's exit 1: restore will not work here, and
// the summary says why.
type errVerifyFailed struct{ summary string }

func (e errVerifyFailed) Error() string { return e.summary }

// maxDrill bounds --tree so a typo cannot fork-bomb the container.
const maxDrill = 10000

func verifyCommand(args []string, _ io.Reader, stdout io.Writer) error {
	fs, _ := cli.NewFlags("verify")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pidList := fs.String("pids", "", "comma-separated PIDs for the drill; the first is the parent")
	tree := fs.Int("tree", 0, fmt.Sprintf("drill with a tree of N processes at free PIDs (default %d)", verify.DefaultTree))
	images := fs.String("images", "", "CRIU image directory (criu dump -D): say whether criu restore --unprivileged of it can work here")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	opts := verify.Options{Tree: *tree, Images: *images}
	switch {
	case *pidList != "" && *tree != 0:
		return errkind.BadInput(errors.New("give --pids or --tree, not both"))
	case *images != "" && (*pidList != "" || *tree != 0):
		return errkind.BadInput(errors.New("--images checks the dump's own PIDs and runs no drill; drop --pids and --tree"))
	case *tree < 0 || *tree == 1 || *tree > maxDrill:
		return errkind.BadInput(fmt.Errorf("--tree %d must be between 2 and %d", *tree, maxDrill))
	case *pidList != "":
		pids, err := parsePIDs(*pidList)
		if err != nil {
			return err
		}
		opts.PIDs = pids
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find crhook's own path: %w", err)
	}
	opts.Self = exe
	report, err := verify.Run(opts)
	if err != nil {
		return err
	}
	if err := writeReport(stdout, *asJSON, report); err != nil {
		return err
	}
	if !report.OK {
		return errVerifyFailed{report.Summary}
	}
	return nil
}

func parsePIDs(list string) ([]int, error) {
	var pids []int
	seen := map[int]bool{}
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, errkind.BadInput(fmt.Errorf("--pids: %q is not a PID", f))
		}
		if seen[n] {
			return nil, errkind.BadInput(fmt.Errorf("--pids: %d is listed twice", n))
		}
		seen[n] = true
		pids = append(pids, n)
	}
	if len(pids) > maxDrill {
		return nil, errkind.BadInput(fmt.Errorf("--pids: more than %d PIDs", maxDrill))
	}
	return pids, nil
}

// textReport is a report that prints itself for a person.
type textReport interface{ WriteText(io.Writer) error }

// writeReport prints a command's report as indented JSON or as text.
func writeReport(w io.Writer, asJSON bool, report textReport) error {
	var err error
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(report)
	} else {
		err = report.WriteText(w)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
