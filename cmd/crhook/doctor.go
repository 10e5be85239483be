package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/crhook/crhook/doctor"
)

// errNotReady is doctor's exit 1.
var errNotReady = errors.New("this host is not ready: fix the lines marked fail")

func doctorCommand(args []string, _ io.Reader, stdout io.Writer) error {
	fs, configPath := newFlags("doctor")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	hooksDir := fs.String("hooks-dir", "", "podman hooks.d directory to look in")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opts, err := installOptions(*configPath, *hooksDir, "")
	if err != nil {
		return err
	}
	report := doctor.Run(doctor.Options{Install: opts})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(report)
	} else {
		err = report.WriteText(stdout)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if !report.Ready {
		return errNotReady
	}
	return nil
}
