package main

import (
	"errors"
	"io"

	"github.com/crhook/crhook/internal/cli"
	"github.com/crhook/crhook/internal/doctor"
)

func doctorCommand(args []string, _ io.Reader, stdout io.Writer) error {
	fs, configPath := cli.NewFlags("doctor")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	hooksDir := fs.String("hooks-dir", "", "podman hooks.d directory to look in")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	opts, cfg, err := installOptions(*configPath, *hooksDir, "")
	if err != nil {
		return err
	}
	report := doctor.Run(doctor.Options{Install: opts, LogFile: cfg.LogFile, Runtime: cfg.Runtime})
	if err := writeReport(stdout, *asJSON, report); err != nil {
		return err
	}
	if !report.Ready {
		return errors.New("this host is not ready: " + report.NotReady())
	}
	return nil
}
