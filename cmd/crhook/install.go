package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/crhook/crhook/hook"
	"github.com/crhook/crhook/install"
	"github.com/crhook/crhook/internal/cli"
	"github.com/crhook/crhook/internal/config"
	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/spec"
)

func installCommand(args []string, _ io.Reader, stdout io.Writer) error {
	return installOrUninstall("install", args, stdout)
}

func uninstallCommand(args []string, _ io.Reader, stdout io.Writer) error {
	return installOrUninstall("uninstall", args, stdout)
}

func installOrUninstall(name string, args []string, stdout io.Writer) error {
	fs, configPath := cli.NewFlags(name)
	engine := fs.String("for", "", "engine: "+strings.Join(install.Engines, ", ")+" (required)")
	hooksDir := fs.String("hooks-dir", "", "hooks.d directory (podman: "+install.DefaultHooksDir+", crio: "+install.DefaultCRIOHooksDir+")")
	engineConfig := fs.String("engine-config", "", "engine config to merge into (docker: "+install.DefaultDockerConfig+
		", containerd: "+install.DefaultContainerdConfig+", crio: drop-in dir "+install.DefaultCRIODropIn+")")
	dryRun := fs.Bool("dry-run", false, "print the changes instead of making them")
	hostRoot := fs.String("host-root", "", "where the host's / is mounted (from a DaemonSet pod); configs keep host paths")
	record := fs.String("record", "", "where install keeps what each engine file held before it, for uninstall (default "+install.DefaultRecord+", under --host-root)")
	binDir := fs.String("install-binary", "", "copy this crhook into DIR on the host (with crhook-runtime) and point the engine there")
	profile := fs.String("profile", "", "opt in every container of crhook's runtime with this profile unless its annotations say otherwise "+
		"(docker: always, default the admin's default_profile; containerd, crio: only when given)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if *binDir != "" && !filepath.IsAbs(*binDir) {
		return errkind.BadInput(fmt.Errorf("--install-binary %q must be an absolute path on the host", *binDir))
	}
	if *engine == "" {
		return errkind.BadInput(fmt.Errorf("--for ENGINE is required (%s)", strings.Join(install.Engines, ", ")))
	}
	opts, _, err := installOptions(*configPath, *hooksDir, *engineConfig)
	if err != nil {
		return err
	}
	opts.HostRoot = absOrEmpty(*hostRoot)
	opts.Record = absOrEmpty(*record)
	if opts.RuntimeProfile, err = runtimeProfile(*engine, *profile, *configPath); err != nil {
		return err
	}
	if *binDir != "" {
		opts.Binary = opts.Hook
		opts.Hook = filepath.Join(*binDir, cli.HookBinaryName)
		opts.Runtime = filepath.Join(*binDir, cli.RuntimeName)
	}
	plan, err := install.For(*engine, opts, name == "uninstall")
	if err != nil {
		if errors.Is(err, install.ErrUnknownEngine) {
			return errkind.BadInput(err)
		}
		return fmt.Errorf("%s for %s: %w", name, *engine, err)
	}
	if *dryRun {
		return plan.DryRun(stdout)
	}
	return plan.Apply(stdout)
}

// runtimeProfile is the runtime-level opt-in install writes: the given
// profile, or for Docker, whose engine on Debian 12 passes no
// annotations, the admin's default. It must be one the admin allows, or
// every container of the runtime would be refused.
func runtimeProfile(engine, name, configPath string) (spec.Profile, error) {
	if name == "" && engine != "docker" {
		return "", nil
	}
	cfg, err := cli.LoadConfig(configPath)
	if err != nil {
		return "", err
	}
	profile := cfg.Policy.DefaultProfile
	if name != "" {
		if profile, err = spec.ParseProfile(name); err != nil {
			return "", fmt.Errorf("--profile: %w", err)
		}
	}
	if !cfg.Policy.Allows(profile) {
		return "", errkind.BadInput(fmt.Errorf("--profile %s is not in the admin's allowed_profiles; allow it in %s or pick another", profile, configName(cfg)))
	}
	return profile, nil
}

func configName(cfg config.Config) string {
	if cfg.Path == "" {
		return config.DefaultPath
	}
	return cfg.Path
}

// installOptions describes this crhook for install, uninstall and doctor,
// with the admin config it read.
func installOptions(configPath, hooksDir, engineConfig string) (install.Options, config.Config, error) {
	cfg, err := cli.LoadConfig(configPath)
	if err != nil {
		return install.Options{}, cfg, err
	}
	me, err := cli.Self()
	if err != nil {
		return install.Options{}, cfg, err
	}
	// Engines run crhook-hook, which make install puts beside crhook.
	opts := install.Options{
		Hook:         filepath.Join(filepath.Dir(me), cli.HookBinaryName),
		Runtime:      filepath.Join(filepath.Dir(me), cli.RuntimeName),
		Timeout:      hook.HookTimeout(cfg),
		HooksDir:     absOrEmpty(hooksDir),
		EngineConfig: absOrEmpty(engineConfig),
	}
	if cfg.Path != "" && cfg.Path != config.DefaultPath {
		opts.Config = cfg.Path
	}
	return opts, cfg, nil
}

func absOrEmpty(p string) string {
	if p == "" {
		return ""
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}
