package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/spec"
)

// Engines crhook installs into.
var Engines = []string{"podman", "docker", "containerd", "crio"}

// ErrUnknownEngine marks an engine crhook does not install into.
var ErrUnknownEngine = errors.New("unknown engine")

// RuntimeName is the runtime entry crhook adds to Docker, containerd and
// CRI-O, and so the Kubernetes RuntimeClass handler.
const RuntimeName = "crhook"

// Options says where crhook lives and where the engine's files are.
type Options struct {
	// Hook is the absolute path of crhook-hook, the lean build of crhook
	// that hooks and crhook-runtime run.
	Hook string
	// Runtime is the absolute path of crhook-runtime (a link to Hook).
	Runtime string
	// RuntimeProfile, when set, makes the engine's crhook runtime opt in
	// every container with it, unless the container's annotations say
	// otherwise: the runtime entry names Runtime-PROFILE, a link the shim
	// reads its profile from.
	RuntimeProfile spec.Profile
	// Config, when set, is the admin config every hook entry names with
	// --config.
	Config string
	// Timeout is the hook timeout in seconds.
	Timeout int
	// HooksDir overrides the hooks.d directory (podman, CRI-O).
	HooksDir string
	// EngineConfig overrides the engine's config file (Docker's
	// daemon.json, containerd's config.toml) or drop-in dir (CRI-O).
	EngineConfig string
	// HostRoot, when set, is where the host's / is mounted (a DaemonSet
	// pod): files are read and written under it, while the paths written
	// into them stay the host's.
	HostRoot string
	// Binary, when set, is a crhook-hook executable to copy to Hook (under
	// HostRoot), so the node has the binary the engine points at.
	Binary string
	// Record is the install record's path on the host; "" is
	// DefaultRecord.
	Record string
}

// engineFile reads the engine config a merge starts from (nil when it
// does not exist), checking the options first unless uninstalling, which
// needs no crhook paths.
func (o Options) engineFile(path string, uninstall bool) ([]byte, error) {
	if !uninstall {
		if err := o.validate(); err != nil {
			return nil, err
		}
	}
	d, err := openRoot(o.HostRoot)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return readExisting(d, path, maxConfigSize)
}

// onHost maps a host path to where this process reaches it.
func (o Options) onHost(path string) string {
	if o.HostRoot == "" {
		return path
	}
	return filepath.Join(o.HostRoot, path)
}

// validate checks the options before anything is read: each problem is
// the admin's to fix (bad input).
func (o Options) validate() error {
	var errs []error
	for name, p := range map[string]string{"crhook-hook": o.Hook, spec.RuntimeBinary: o.Runtime} {
		if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("%s path %q is not absolute", name, p))
		}
	}
	if o.HostRoot != "" {
		if info, err := os.Stat(o.HostRoot); err != nil || !info.IsDir() {
			errs = append(errs, fmt.Errorf("host root %s is not a directory: mount the host's / there, or drop --host-root", o.HostRoot))
			return errkind.BadInput(errors.Join(errs...))
		}
	}
	// Engines skip or fail on a hook program that does not exist (podman's
	// loader drops the hook silently), so say so now.
	if o.Binary == "" && filepath.IsAbs(o.Hook) && !o.hookInstalled() {
		errs = append(errs, fmt.Errorf("crhook-hook is not at %s: install it beside crhook (make install), or pass --install-binary DIR", o.Hook))
	}
	if filepath.IsAbs(o.Hook) {
		if err := o.onlyRootCanChangeHook(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("hook timeout %d must be positive", o.Timeout))
	}
	if len(errs) > 0 {
		return errkind.BadInput(errors.Join(errs...))
	}
	return nil
}

// onlyRootCanChangeHook refuses to point engines at a crhook-hook, or to
// copy one into a directory, that a user other than root could replace:
// every container start runs it as root.
func (o Options) onlyRootCanChangeHook() error {
	d, err := openRoot(o.HostRoot)
	if err != nil {
		return err
	}
	defer d.Close()
	dir := filepath.Dir(o.Hook)
	if o.Binary != "" {
		if err := d.OnlyRootCanCreate(dir); err != nil {
			return fmt.Errorf("--install-binary %s: %w; use a directory only root can write, such as /usr/local/bin", dir, err)
		}
		return nil
	}
	if err := d.OnlyRootCanChangeFile(o.Hook); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("crhook-hook at %s: %w; every container start runs it as root, so install it where only root can write (make install puts it in /usr/local/bin, root:root 0755)", o.Hook, err)
	}
	return nil
}

// hookInstalled reports whether the host has a regular file at Hook.
func (o Options) hookInstalled() bool {
	d, err := openRoot(o.HostRoot)
	if err != nil {
		return false
	}
	defer d.Close()
	return d.IsRegular(o.Hook)
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// RuntimeLinks makes crhook-runtime, the name that turns crhook-hook into
// the runtime shim, next to crhook-hook, and crhook-runtime-PROFILE for a
// runtime-level opt-in.
func RuntimeLinks(o Options) []Change {
	links := []Change{{Path: o.onHost(o.Runtime), Symlink: filepath.Base(o.Hook), Why: "crhook-hook as the runtime shim"}}
	if o.RuntimeProfile != "" {
		links = append(links, Change{Path: o.onHost(o.runtimeEntry()), Symlink: filepath.Base(o.Hook),
			Why: "crhook-hook as the runtime shim that opts every container in with profile " + string(o.RuntimeProfile)})
	}
	return links
}

// runtimeEntry is the runtime binary an engine's crhook entry names:
// crhook-runtime, or crhook-runtime-PROFILE for a runtime-level opt-in.
func (o Options) runtimeEntry() string {
	if o.RuntimeProfile == "" {
		return o.Runtime
	}
	return o.Runtime + "-" + string(o.RuntimeProfile)
}

// binaryCopy installs crhook-hook where the engine config will point.
func binaryCopy(o Options) (Change, error) {
	data, err := os.ReadFile(o.Binary)
	if err != nil {
		return Change{}, fmt.Errorf("read crhook-hook binary: %w", err)
	}
	return Change{Path: o.onHost(o.Hook), Content: data, Mode: 0o755, Program: true, Why: "the crhook-hook binary engines run"}, nil
}

// For returns the plan for engine. Engines that take crhook-runtime also
// get the link that provides it.
func For(engine string, o Options, uninstall bool) (Plan, error) {
	var p Plan
	var err error
	switch engine {
	case "podman":
		p, err = Podman(o, uninstall)
		if err == nil && !uninstall && o.Binary != "" {
			c, copyErr := binaryCopy(o)
			p.Changes, err = append([]Change{c}, p.Changes...), copyErr
		}
		p.Root = o.HostRoot
		return p, err
	case "docker":
		p, err = Docker(o, uninstall)
	case "containerd":
		p, err = Containerd(o, uninstall)
	case "crio":
		p, err = CRIO(o, uninstall)
	default:
		return Plan{}, fmt.Errorf("%w %q; use one of %s", ErrUnknownEngine, engine, strings.Join(Engines, ", "))
	}
	if err == nil && !uninstall {
		p.Changes = append(RuntimeLinks(o), p.Changes...)
	}
	if err == nil && !uninstall && o.Binary != "" {
		c, copyErr := binaryCopy(o)
		p.Changes, err = append([]Change{c}, p.Changes...), copyErr
	}
	p.Root = o.HostRoot
	return p, err
}

// Installed reports whether crhook is installed for engine as o describes
// it: installing again would change nothing.
func Installed(engine string, o Options) (bool, error) {
	plan, err := For(engine, o, false)
	if err != nil {
		return false, err
	}
	d, err := openRoot(plan.Root)
	if err != nil {
		return false, err
	}
	defer d.Close()
	pending, err := plan.pending(d, plan.Changes)
	return err == nil && len(pending) == 0, err
}
