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
	// Sources resolves bind sources on the host, as the runtime will.
	Sources Sources
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
	d, s, err := parseSpec(raw)
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
	e := editor{spec: s, policy: opts.Policy, sources: opts.Sources, d: d, edits: newEdits(d)}
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
		err = checkOutput(out, d)
	}
	if err != nil && !errors.Is(err, errkind.ErrBadInput) {
		err = errkind.BadInput(err)
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

// checkOutput indexes the adjusted spec as strictly as the input, so a
// splice gone wrong never reaches a runtime, taking over in's memory. It
// does not decide again whether the grant took: createRuntime does, on
// the config.json the runtime reads, which is the stronger check, and
// FuzzAdjust holds every Adjust output to it. Deciding twice here cost a
// hook's cold start a sixth of its time.
func checkOutput(out []byte, in *doc) error {
	if _, err := checkObject(out, in); err != nil {
		return fmt.Errorf("adjusted spec: %w", err)
	}
	return nil
}

// editor edits the indexed spec d, guided by spec, its typed twin read
// from the same bytes.
type editor struct {
	spec    *specs.Spec
	policy  Policy
	sources Sources
	d       *doc
	edits   *edits
	changes []string
	notes   []string
}

func (e *editor) note(format string, args ...any) {
	e.changes = append(e.changes, fmt.Sprintf(format, args...))
}

// pidNamespace refuses a container without its own PID namespace, unless
// the admin allows it, which the log then says (see checkSharedPID).
func (e *editor) pidNamespace(req Request) error {
	note, err := checkSharedPID(sharedPIDNamespace(e.spec), req)
	if note != "" {
		e.notes = append(e.notes, note)
	}
	return err
}

func (e *editor) procSys() error {
	undone := procSysUndone(e.spec, e.sources)
	if undone.what == "" && procSysCover(e.spec) != "" {
		return nil
	}
	// A mount that undoes the rule stays writable under any readonlyPaths
	// entry, so adding one would not help.
	if e.policy.ProcSys != ProcSysAddReadonly || undone.what != "" {
		return procSysRefusal(e.spec, e.sources, "crhook grants nothing")
	}
	linux, err := e.container(0, "linux", '{')
	if err != nil {
		return err
	}
	e.note("added %s to linux.readonlyPaths (admin policy proc_sys=%s)", ProcSys, ProcSysAddReadonly)
	if linux < 0 {
		return e.setMember(0, "linux", slices.Concat([]byte(`{"readonlyPaths":[`), jsonString(ProcSys), []byte(`]}`)))
	}
	return e.appendTo(linux, "readonlyPaths", jsonString(ProcSys))
}

// container finds member key of obj, of kind '{' or '['; -1 when it is
// absent or null, for the caller to create with its content.
func (e *editor) container(obj int, key string, kind byte) (int, error) {
	i, err := e.d.member(obj, key)
	if err != nil || e.d.isNull(i) {
		return -1, err
	}
	if byte(e.d.nodes[i].kind) != kind {
		return -1, fmt.Errorf("%s is not %s", key, map[byte]string{'{': "an object", '[': "an array"}[kind])
	}
	return i, nil
}

// appendTo adds values to array member key of object obj, creating the
// array where it is absent or null.
func (e *editor) appendTo(obj int, key string, values ...[]byte) error {
	arr, err := e.container(obj, key, '[')
	if err != nil {
		return err
	}
	if arr >= 0 {
		for _, v := range values {
			e.edits.add(arr, v)
		}
		return nil
	}
	return e.setMember(obj, key, slices.Concat([]byte{'['}, bytes.Join(values, []byte{','}), []byte{']'}))
}

// setMember gives object obj member key the value text: in place of a
// null one, or added.
func (e *editor) setMember(obj int, key string, text []byte) error {
	i, err := e.d.member(obj, key)
	if err != nil {
		return err
	}
	e.edits.set(obj, i, key, text)
	return nil
}

func (e *editor) capabilities(caps []string) error {
	gaps := MissingCapabilities(e.spec.Process.Capabilities, e.spec.Process.User.UID, caps)
	if len(gaps) == 0 {
		return nil
	}
	process, err := e.d.member(0, "process")
	if err != nil {
		return err
	}
	if err := addCapabilities(e.d, e.edits, process, gaps); err != nil {
		return fmt.Errorf("process: %w", err)
	}
	e.note("added %s", describeAdded(gaps))
	return nil
}

// addCapabilities appends each gap's capabilities to its set in the
// process object, creating the capabilities object or a set where there
// is none.
func addCapabilities(d *doc, ed *edits, process int, gaps []SetGap) error {
	caps, err := d.member(process, "capabilities")
	if err != nil {
		return err
	}
	if d.isNull(caps) {
		members := make([]jsonMember, len(gaps))
		for i, g := range gaps {
			members[i] = jsonMember{string(g.Set), jsonStrings(g.Missing)}
		}
		obj := jsonObject(members...)
		ed.set(process, caps, "capabilities", obj)
		return nil
	}
	for _, g := range gaps {
		set, err := d.member(caps, string(g.Set))
		if err != nil {
			return fmt.Errorf("capabilities: %w", err)
		}
		if d.isNull(set) {
			list := jsonStrings(g.Missing)
			ed.set(caps, set, string(g.Set), list)
			continue
		}
		for _, c := range g.Missing {
			ed.add(set, jsonString(c))
		}
	}
	return nil
}

// dumpSeccomp decides a checkpoint container with a seccomp filter as
// the admin's checkpoint_seccomp says: keep the filter (restores work,
// dumps do not, and the log says so), refuse the container, or remove the
// filter, a weakening the admin chose so that dumps work.
func (e *editor) dumpSeccomp(profile Profile) error {
	if profile != ProfileCheckpoint || e.spec.Linux == nil || !InstallsFilter(e.spec.Linux.Seccomp) {
		return nil
	}
	switch e.policy.CheckpointSeccomp {
	case CheckpointSeccompRefuse:
		return seccompDumpRefusal()
	case CheckpointSeccompKeep:
		e.notes = append(e.notes, seccompKeptNote)
		return nil
	}
	linux, err := e.d.member(0, "linux")
	if err != nil {
		return err
	}
	sc, err := e.d.member(linux, "seccomp")
	if err != nil {
		return err
	}
	e.edits.remove(linux, sc)
	e.spec.Linux.Seccomp = nil
	e.note("removed linux.seccomp so CRIU can dump this checkpoint container (admin policy checkpoint_seccomp=%s)", CheckpointSeccompRemove)
	return nil
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
	seccomp, err := e.d.path(0, "linux", "seccomp")
	if err != nil {
		return err
	}
	if err := openClone3(e.d, e.edits, seccomp, sc); err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	e.note("seccomp: %s; let clone3 through for this container", verdict.Why)
	return nil
}

// openClone3 takes clone3 out of every rule that blocks it or filters its
// arguments, dropping rules left with no names, and adds an allow rule
// when the default action would still block it.
func openClone3(d *doc, ed *edits, seccomp int, sc *specs.LinuxSeccomp) error {
	syscalls, err := d.member(seccomp, "syscalls")
	if err != nil {
		return err
	}
	rules := d.elements(syscalls)
	if len(rules) != len(sc.Syscalls) {
		return errkind.BadInput(fmt.Errorf("syscalls: %d rules in the JSON but %d decoded", len(rules), len(sc.Syscalls)))
	}
	allowed := false
	for i, rule := range sc.Syscalls {
		if !slices.Contains(rule.Names, Clone3) {
			continue
		}
		if actionAllows(rule.Action) && len(rule.Args) == 0 {
			allowed = true
			continue
		}
		if !slices.ContainsFunc(rule.Names, func(n string) bool { return n != Clone3 }) {
			ed.remove(syscalls, rules[i])
			continue
		}
		names, err := d.member(rules[i], "names")
		if err != nil {
			return fmt.Errorf("syscalls[%d]: %w", i, err)
		}
		for j, n := range d.elements(names) {
			if rule.Names[j] == Clone3 {
				ed.remove(names, n)
			}
		}
	}
	if allowed || actionAllows(sc.DefaultAction) {
		return nil
	}
	rule := jsonObject(jsonMember{"names", jsonStrings([]string{Clone3})}, jsonMember{"action", jsonString(string(specs.ActAllow))})
	if d.isNull(syscalls) {
		ed.set(seccomp, syscalls, "syscalls", slices.Concat([]byte{'['}, rule, []byte{']'}))
		return nil
	}
	ed.add(syscalls, rule)
	return nil
}

func (e *editor) annotations(want map[string]string) error {
	obj := e.d.memberExact(0, "annotations")
	if e.d.isNull(obj) {
		var members []jsonMember
		for _, key := range []string{AnnotationProfile, AnnotationRestore} {
			members = append(members, jsonMember{key, jsonString(want[key])})
			e.note("set annotation %s=%s", key, want[key])
		}
		text := jsonObject(members...)
		e.edits.set(0, obj, "annotations", text)
		return nil
	}
	for _, key := range []string{AnnotationRestore, AnnotationProfile} {
		if have, ok := e.spec.Annotations[key]; ok && have == want[key] {
			continue
		}
		e.edits.set(obj, e.d.memberExact(obj, key), key, jsonString(want[key]))
		e.note("set annotation %s=%s", key, want[key])
	}
	return nil
}

func (e *editor) hooks(want map[string]specs.Hook) error {
	if len(want) == 0 {
		return nil
	}
	// The hooks are not among the members decideOn reads: their types
	// are checked here, before anything is spliced into them.
	r := reader{d: e.d}
	at := r.at(0, "hooks")
	hooks := r.object(at, "hooks")
	if r.err != nil {
		return errkind.BadInput(r.err)
	}
	var missing []string
	texts := map[string][]byte{}
	for _, stage := range slices.Sorted(maps.Keys(want)) {
		hook := want[stage]
		list := r.at(hooks, stage)
		have := false
		for h := r.array(list, "hooks."+stage); h >= 0; h = e.d.next(h) {
			if r.object(h, "hooks."+stage+"[]") >= 0 &&
				sameHook(specs.Hook{Path: r.str(r.at(h, "path"), "hooks."+stage+"[].path"), Args: r.strs(r.at(h, "args"), "hooks."+stage+"[].args")}, hook) {
				have = true
				break
			}
		}
		if r.err != nil {
			return errkind.BadInput(r.err)
		}
		if have {
			continue
		}
		texts[stage] = jsonHook(hook)
		missing = append(missing, stage)
		e.note("registered %s hook %s", stage, hook.Path)
	}
	if len(missing) == 0 {
		return nil
	}
	if hooks < 0 {
		var members []jsonMember
		for _, stage := range missing {
			members = append(members, jsonMember{stage, slices.Concat([]byte{'['}, texts[stage], []byte{']'})})
		}
		e.edits.set(0, at, "hooks", jsonObject(members...))
		return nil
	}
	for _, stage := range missing {
		if err := e.appendTo(hooks, stage, texts[stage]); err != nil {
			return fmt.Errorf("hooks: %w", err)
		}
	}
	return nil
}

// sameHook matches crhook's own entry: same program, same arguments.
// Timeout and env may differ without adding a second entry.
func sameHook(a, b specs.Hook) bool {
	return a.Path == b.Path && slices.Equal(a.Args, b.Args)
}

func (e *editor) encode(indent bool) ([]byte, error) {
	out, err := e.edits.apply()
	if err != nil || !indent {
		return out, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "\t"); err != nil {
		return nil, fmt.Errorf("indent spec: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
