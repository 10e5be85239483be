package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/errkind"
)

// Sentinel errors for refusals; each message says what to change.
var (
	ErrProcSysWritable = errors.New("/proc/sys is writable")
	ErrClone3Blocked   = errors.New("seccomp blocks clone3")
)

// Options controls one Adjust.
type Options struct {
	Policy Policy
	// OptIn opts the spec in even without annotations and writes them
	// (patch). Profile, when set, replaces the profile annotation.
	OptIn   bool
	Profile Profile
	// RuntimeOptIn opts in, with this profile, every spec whose
	// annotations do not say io.crhook.restore either way: the engine
	// chose crhook's runtime for it (a Docker --runtime, a RuntimeClass).
	// An io.crhook.profile annotation still picks the profile, and the
	// annotations are written so the checks see them.
	RuntimeOptIn Profile
	// Hooks are registered per stage in an opted-in spec, unless an equal
	// hook is there already (patch, and the runtime shim).
	Hooks map[string]specs.Hook
	// Indent formats the output as runc spec does; otherwise it is compact.
	Indent bool
}

// Result says what Adjust did.
type Result struct {
	Request Request
	// Output is the adjusted spec; it is the input itself when nothing
	// needed to change or when Adjust refused the spec, and nil only when
	// the input could not be parsed.
	Output  []byte
	Changed bool
	// Changes lists each edit in words, for the log.
	Changes []string
	// Notes are what the log must say about a grant that is not an edit,
	// such as one the admin's policy allows that crhook would refuse.
	Notes []string
}

// Adjust applies the container's request to its config.json: the
// profile's capabilities in the sets they need, clone3 let through
// seccomp, and, for patch, the annotations and crhook's hooks. Members
// crhook does not know survive. A spec that did not opt in comes back
// unchanged. Adjusting an adjusted spec changes nothing.
func Adjust(raw []byte, opts Options) (Result, error) {
	if !opts.OptIn && opts.RuntimeOptIn == "" && cannotOptIn(raw) {
		return Result{Output: raw}, nil
	}
	root, s, err := parseSpec(raw)
	if err != nil {
		return Result{}, err
	}
	annotations, writeAnnotations := optInAnnotations(s.Annotations, opts)
	req, err := ResolveRequest(annotations, opts.Policy)
	if err != nil || !req.OptedIn {
		return Result{Request: req, Output: raw}, err
	}
	if s.Process == nil {
		return Result{Request: req, Output: raw}, errkind.BadInput(errors.New("spec has no process"))
	}
	e := editor{spec: s, policy: opts.Policy, root: root}
	steps := []func() error{
		func() error { return e.pidNamespace(req) },
		e.procSys,
		func() error { return e.capabilities(req.Profile.Capabilities()) },
		func() error { return e.dumpSeccomp(req.Profile) },
		e.clone3,
	}
	if writeAnnotations {
		steps = append(steps, func() error { return e.annotations(annotations) })
	}
	steps = append(steps, func() error { return e.hooks(opts.Hooks) })
	for _, step := range steps {
		if err := step(); err != nil {
			return Result{Request: req, Output: raw}, err
		}
	}
	if len(e.changes) == 0 {
		return Result{Request: req, Output: raw, Notes: e.notes}, nil
	}
	out, err := e.encode(opts.Indent)
	if err == nil {
		err = checkGranted(out, req)
	}
	if err != nil {
		return Result{Request: req, Output: raw}, err
	}
	return Result{Request: req, Output: out, Changed: true, Changes: e.changes, Notes: e.notes}, nil
}

// optInAnnotations returns the annotations the request is read from, and
// whether they must be written: patch opts in whatever the spec says; a
// runtime-level opt-in applies where the spec's annotations are silent.
func optInAnnotations(have map[string]string, opts Options) (map[string]string, bool) {
	_, decided := have[AnnotationRestore]
	profile := opts.Profile
	switch {
	case opts.OptIn:
	case opts.RuntimeOptIn != "" && !decided && !IsSandbox(have):
		profile = ""
		if _, named := have[AnnotationProfile]; !named {
			profile = opts.RuntimeOptIn
		}
	default:
		return have, false
	}
	annotations := maps.Clone(have)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationRestore] = "true"
	if profile != "" {
		annotations[AnnotationProfile] = string(profile)
	} else if _, ok := annotations[AnnotationProfile]; !ok {
		annotations[AnnotationProfile] = string(opts.Policy.DefaultProfile)
	}
	return annotations, true
}

// checkGranted re-reads the adjusted spec as a runtime would and confirms
// the grant took: what crhook emits is verified, not assumed. It skips
// the duplicate-key scan: the input passed it, and every member Adjust
// writes went through object.get, which refuses a name already present in
// another letter case.
func checkGranted(out []byte, req Request) error {
	root, err := decodeObject(out)
	if err != nil {
		return fmt.Errorf("adjusted spec: %w", err)
	}
	s, err := decideOn(root)
	if err != nil {
		return fmt.Errorf("adjusted spec: %w", err)
	}
	if err := Verify(s, req, Host{CapLastCap: CapCheckpointRestoreNumber}); err != nil {
		return errkind.BadInput(fmt.Errorf("adjusted spec still fails its checks (is a member spelled in another letter case?): %w", err))
	}
	return nil
}

// editor edits root, the raw spec, guided by spec, its typed twin.
type editor struct {
	spec    *specs.Spec
	policy  Policy
	root    object
	changes []string
	notes   []string
}

func (e *editor) note(format string, args ...any) {
	e.changes = append(e.changes, fmt.Sprintf(format, args...))
}

// pidNamespace refuses a container without its own PID namespace, unless
// the admin allows it, which the log then says.
func (e *editor) pidNamespace(req Request) error {
	how := sharedPIDNamespace(e.spec)
	switch {
	case how == "":
		return nil
	case !req.SharedPIDAllowed:
		return sharedPIDRefusal(how)
	}
	e.notes = append(e.notes, fmt.Sprintf("granted although the container %s (admin policy allow_shared_pid_namespace = true)", how))
	return nil
}

func (e *editor) procSys() error {
	if ProcSysRule(e.spec) != "" {
		return nil
	}
	// A mount that undoes the rule stays writable under any readonlyPaths
	// entry, so adding one would not help.
	if e.policy.ProcSys != ProcSysAddReadonly || procSysUndone(e.spec) != "" {
		return procSysRefusal(e.spec, "crhook grants nothing")
	}
	return e.editLinux(func(linux object) error {
		paths, err := linux.strings("readonlyPaths")
		if err != nil {
			return err
		}
		e.note("added %s to linux.readonlyPaths (admin policy proc_sys=%s)", ProcSys, ProcSysAddReadonly)
		return linux.set("readonlyPaths", append(paths, ProcSys))
	})
}

func (e *editor) capabilities(caps []string) error {
	gaps := MissingCapabilities(e.spec.Process.Capabilities, e.spec.Process.User.UID, caps)
	if len(gaps) == 0 {
		return nil
	}
	process, err := e.root.child("process")
	if err != nil {
		return err
	}
	if err := addCapabilities(process, gaps); err != nil {
		return fmt.Errorf("process: %w", err)
	}
	e.note("added %s", describeAdded(gaps))
	return e.root.set("process", process)
}

// addCapabilities appends each gap's capabilities to its set in the raw
// process object, keeping every other member as it was.
func addCapabilities(process object, gaps []SetGap) error {
	capObj, err := process.child("capabilities")
	if err != nil {
		return err
	}
	for _, gap := range gaps {
		list, err := capObj.strings(string(gap.Set))
		if err != nil {
			return fmt.Errorf("capabilities: %w", err)
		}
		if err := capObj.set(string(gap.Set), append(list, gap.Missing...)); err != nil {
			return err
		}
	}
	return process.set("capabilities", capObj)
}

// dumpSeccomp refuses a checkpoint container with a seccomp filter, or
// removes the filter when the admin chose that weakening.
func (e *editor) dumpSeccomp(profile Profile) error {
	if profile != ProfileCheckpoint || e.spec.Linux == nil || !InstallsFilter(e.spec.Linux.Seccomp) {
		return nil
	}
	if e.policy.CheckpointSeccomp != CheckpointSeccompRemove {
		return seccompDumpRefusal()
	}
	return e.editLinux(func(linux object) error {
		if _, _, err := linux.get("seccomp"); err != nil {
			return err
		}
		delete(linux, "seccomp")
		e.spec.Linux.Seccomp = nil
		e.note("removed linux.seccomp so CRIU can dump this checkpoint container (admin policy checkpoint_seccomp=%s)", CheckpointSeccompRemove)
		return nil
	})
}

func (e *editor) clone3() error {
	var sc *specs.LinuxSeccomp
	if e.spec.Linux != nil {
		sc = e.spec.Linux.Seccomp
	}
	verdict := Clone3Verdict(sc)
	if verdict.Allowed {
		return nil
	}
	if !e.policy.OpenClone3 {
		return fmt.Errorf("%w: %s, and the admin policy keeps it closed (open_clone3 = false); use a seccomp profile that allows clone3", ErrClone3Blocked, verdict.Why)
	}
	if a, ok := handedOff(sc); ok {
		return fmt.Errorf("%w: %s sends clone3 to %s, and crhook does not take a call away from it; allow clone3 in the seccomp profile yourself",
			ErrClone3Blocked, describeSource(sc, a), handler(a))
	}
	return e.editLinux(func(linux object) error {
		seccomp, err := linux.child("seccomp")
		if err != nil {
			return err
		}
		if err := openClone3(seccomp, sc); err != nil {
			return fmt.Errorf("linux.seccomp: %w", err)
		}
		e.note("seccomp: %s; let clone3 through for this container", verdict.Why)
		return linux.set("seccomp", seccomp)
	})
}

// openClone3 removes clone3 from every rule that blocks it or filters its
// arguments, dropping rules left with no names, and adds an allow rule
// when the default action would still block it.
func openClone3(seccomp object, sc *specs.LinuxSeccomp) error {
	rules, err := seccomp.list("syscalls")
	if err != nil {
		return err
	}
	if len(rules) != len(sc.Syscalls) {
		return errkind.BadInput(fmt.Errorf("syscalls: %d rules in the JSON but %d decoded", len(rules), len(sc.Syscalls)))
	}
	kept := rules[:0]
	allowed := false
	for i, rule := range sc.Syscalls {
		if !slices.Contains(rule.Names, Clone3) {
			kept = append(kept, rules[i])
			continue
		}
		if actionAllows(rule.Action) && len(rule.Args) == 0 {
			allowed = true
			kept = append(kept, rules[i])
			continue
		}
		names := slices.DeleteFunc(slices.Clone(rule.Names), func(n string) bool { return n == Clone3 })
		if len(names) == 0 {
			continue
		}
		ruleObj, err := decodeObject(rules[i])
		if err != nil {
			return fmt.Errorf("syscalls[%d]: %w", i, err)
		}
		if _, _, err := ruleObj.get("names"); err != nil {
			return fmt.Errorf("syscalls[%d]: %w", i, err)
		}
		if err := ruleObj.set("names", names); err != nil {
			return err
		}
		b, err := marshal(ruleObj)
		if err != nil {
			return err
		}
		kept = append(kept, b)
	}
	if !allowed && !actionAllows(sc.DefaultAction) {
		b, err := marshal(specs.LinuxSyscall{Names: []string{Clone3}, Action: specs.ActAllow})
		if err != nil {
			return err
		}
		kept = append(kept, b)
	}
	return seccomp.set("syscalls", kept)
}

func (e *editor) annotations(want map[string]string) error {
	current, err := e.root.child("annotations")
	if err != nil {
		return err
	}
	changed := false
	for _, key := range []string{AnnotationRestore, AnnotationProfile} {
		var have string
		ok, err := current.decode(key, &have)
		if err != nil {
			return fmt.Errorf("annotations: %w", err)
		}
		if ok && have == want[key] {
			continue
		}
		if err := current.set(key, want[key]); err != nil {
			return err
		}
		e.note("set annotation %s=%s", key, want[key])
		changed = true
	}
	if !changed {
		return nil
	}
	return e.root.set("annotations", current)
}

func (e *editor) hooks(want map[string]specs.Hook) error {
	if len(want) == 0 {
		return nil
	}
	hooks, err := e.root.child("hooks")
	if err != nil {
		return err
	}
	changed := false
	for _, stage := range slices.Sorted(maps.Keys(want)) {
		hook := want[stage]
		rawList, err := hooks.list(stage)
		if err != nil {
			return fmt.Errorf("hooks: %w", err)
		}
		var list []specs.Hook
		if err := decodeEach(rawList, &list); err != nil {
			return fmt.Errorf("hooks.%s: %w", stage, err)
		}
		if slices.ContainsFunc(list, func(h specs.Hook) bool { return sameHook(h, hook) }) {
			continue
		}
		b, err := marshal(hook)
		if err != nil {
			return err
		}
		if err := hooks.set(stage, append(rawList, b)); err != nil {
			return err
		}
		e.note("registered %s hook %s", stage, hook.Path)
		changed = true
	}
	if !changed {
		return nil
	}
	return e.root.set("hooks", hooks)
}

// decodeEach decodes raw elements into a typed slice.
func decodeEach[T any](raw []json.RawMessage, out *[]T) error {
	for _, r := range raw {
		var v T
		if err := json.Unmarshal(r, &v); err != nil {
			return err
		}
		*out = append(*out, v)
	}
	return nil
}

// sameHook matches crhook's own entry: same program, same arguments.
// Timeout and env may differ without adding a second entry.
func sameHook(a, b specs.Hook) bool {
	return a.Path == b.Path && slices.Equal(a.Args, b.Args)
}

func (e *editor) editLinux(edit func(linux object) error) error {
	linux, err := e.root.child("linux")
	if err != nil {
		return err
	}
	if err := edit(linux); err != nil {
		return fmt.Errorf("linux: %w", err)
	}
	return e.root.set("linux", linux)
}

func (e *editor) encode(indent bool) ([]byte, error) {
	out := e.root.encode()
	if !indent {
		return out, nil
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "\t"); err != nil {
		return nil, fmt.Errorf("indent spec: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
