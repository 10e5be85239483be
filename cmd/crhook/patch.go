package main

import (
	"errors"
	"io"

	"github.com/crhook/crhook/hook"
	"github.com/crhook/crhook/internal/cli"
	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/spec"
)

func patchCommand(args []string, _ io.Reader, stdout io.Writer) error {
	fs, configPath := cli.NewFlags("patch")
	bundle := fs.String("bundle", "", "bundle directory holding config.json (required)")
	profile := fs.String("profile", "", "profile to grant: minimal, restore or checkpoint (default: the admin's default_profile)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if *bundle == "" {
		return errkind.BadInput(errors.New("--bundle DIR is required"))
	}
	var p spec.Profile
	if *profile != "" {
		var err error
		if p, err = spec.ParseProfile(*profile); err != nil {
			return err
		}
	}
	return cli.RunStage("patch", *configPath, false, func(env hook.Env) (hook.Outcome, error) {
		me, err := cli.Self()
		if err != nil {
			return hook.Outcome{}, err
		}
		env.Self = cli.HookBinaryOrSelf(me)
		out, err := hook.Patch(env, *bundle, p)
		if err == nil {
			report(stdout, out)
		}
		return out, err
	})
}

func report(w io.Writer, out hook.Outcome) {
	if len(out.Changes) == 0 {
		io.WriteString(w, "crhook patch: already patched, nothing changed\n")
		return
	}
	for _, c := range out.Changes {
		io.WriteString(w, "crhook patch: "+c+"\n")
	}
}
