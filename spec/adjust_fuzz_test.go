package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/errkind"
)

// Fuzz targets for Adjust, the edit crhook makes to every opted-in spec.
// Without -fuzz they run over their seeds (f.Add and testdata/fuzz) as
// ordinary tests; scripts/fuzz.sh runs each one with the fuzzing engine.

// fuzzMember is the unknown top-level member injected into every fuzzed
// spec: crhook must hand it to the runtime untouched.
const (
	fuzzMemberKey   = "org.fuzz.x"
	fuzzMemberValue = `{"kept":[1.5,"<&>",null,{"deep":true}]}`
)

// injectBit in FuzzAdjust's mode byte injects fuzzMemberKey first.
const injectBit = 1 << 5

var fuzzHooks = map[string]specs.Hook{
	"createRuntime": {Path: "/usr/local/bin/crhook", Args: []string{"crhook", "createRuntime"}},
	"poststart":     {Path: "/usr/local/bin/crhook", Args: []string{"crhook", "poststart"}},
}

// fuzzOptions derives Adjust's options from two fuzzed bytes.
//
// policy: bits 0-2 allow minimal, restore and checkpoint (none set gives
// the default policy's list); bits 3-4 pick the default profile among the
// allowed ones; bit 5 sets proc_sys = "add-readonly"; bit 6 sets
// open_clone3 = false; bit 7 sets checkpoint_seccomp = "remove", and
// without it mode's bit 5 sets checkpoint_seccomp = "refuse" (the
// default keeps the filter).
//
// mode: bit 0 opts in as patch does; bit 1 registers crhook's hooks (patch
// and the runtime shim); bits 2-3 pick patch's --profile ("" or one of
// Profiles); bit 4 indents the output. Bit 5 (injectBit, read by
// FuzzAdjust) adds an unknown top-level member that must survive. Bit 6
// sets allow_shared_pid_namespace, so specs without a PID namespace of
// their own reach the later steps too. Bit 7 opts in at the runtime's
// level (a Docker runtime, a RuntimeClass) with the minimal profile.
func fuzzOptions(policy, mode byte) Options {
	p := DefaultPolicy()
	var allowed []Profile
	for i, prof := range Profiles {
		if policy&(1<<i) != 0 {
			allowed = append(allowed, prof)
		}
	}
	if len(allowed) > 0 {
		p.AllowedProfiles = allowed
	}
	p.DefaultProfile = p.AllowedProfiles[int(policy>>3&3)%len(p.AllowedProfiles)]
	if policy&(1<<5) != 0 {
		p.ProcSys = ProcSysAddReadonly
	}
	if policy&(1<<6) != 0 {
		p.OpenClone3 = false
	}
	switch {
	case policy&(1<<7) != 0:
		p.CheckpointSeccomp = CheckpointSeccompRemove
	case mode&(1<<5) != 0:
		p.CheckpointSeccomp = CheckpointSeccompRefuse
	}
	p.AllowSharedPID = mode&(1<<6) != 0
	opts := Options{Sources: testSources, Policy: p, OptIn: mode&1 != 0, Indent: mode&(1<<4) != 0}
	if mode&(1<<7) != 0 {
		opts.RuntimeOptIn = ProfileMinimal
	}
	if mode&(1<<1) != 0 {
		opts.Hooks = fuzzHooks
	}
	if i := int(mode >> 2 & 3); i > 0 {
		opts.Profile = Profiles[i-1]
	}
	return opts
}

// fuzzFixtures are real specs and the variants the unit tests use: the
// starting points for both Adjust fuzz targets.
func fuzzFixtures(f *testing.F) map[string][]byte {
	f.Helper()
	writable := optIn(runcSpec(f), "")
	writable.Linux.ReadonlyPaths = slices.DeleteFunc(writable.Linux.ReadonlyPaths, func(p string) bool { return p == ProcSys })
	root := optIn(runcSpec(f), "restore")
	root.Process.User.UID = 0
	fixtures := map[string][]byte{
		"runc":                         readFixture(f, "runc-spec.json"),
		"podman":                       readFixture(f, "podman-user1000.json"),
		"runc uid 1000":                encode(f, optIn(runcSpec(f), "")),
		"runc uid 0 restore":           encode(f, root),
		"runc checkpoint":              encode(f, optIn(runcSpec(f), "checkpoint")),
		"docker seccomp":               encode(f, optIn(withDockerSeccomp(f, runcSpec(f)), "")),
		"writable /proc/sys":           encode(f, writable),
		"extension members":            withExtension(f, encode(f, optIn(withDockerSeccomp(f, runcSpec(f)), "restore"))),
		"no capabilities":              []byte(`{"process":{"user":{"uid":1000},"args":["sh"]},"linux":{"readonlyPaths":["/proc/sys"]},"annotations":{"io.crhook.restore":"true"}}`),
		"lower-case caps":              []byte(`{"process":{"user":{"uid":0},"capabilities":{"bounding":["cap_checkpoint_restore"],"effective":["cap_checkpoint_restore"],"permitted":["cap_checkpoint_restore"]}},"mounts":[{"destination":"/proc/sys","type":"proc","options":["ro"]}],"annotations":{"io.crhook.restore":"true"}}`),
		"filtered clone3 rule":         []byte(`{"process":{"user":{"uid":1000}},"linux":{"maskedPaths":["/proc"],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone3","read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},null]}},"annotations":{"io.crhook.restore":"true"}}`),
		"future capability":            []byte(`{"process":{"user":{"uid":1000},"capabilities":{"bounding":["CAP_FROM_THE_FUTURE"]}},"linux":{"readonlyPaths":["/proc/sys"]},"annotations":{"io.crhook.restore":"true"}}`),
		"sandbox container":            []byte(`{"process":{"user":{"uid":0}},"annotations":{"io.crhook.restore":"true","io.kubernetes.cri.container-type":"sandbox"}}`),
		"hostile annotation":           []byte(`{"process":{"user":{"uid":0}},"annotations":{"io.crhook.restore":"true; CAP_SYS_ADMIN"}}`),
		"duplicate member":             []byte(`{"annotations":{"io.crhook.restore":"false","io.crhook.restore":"true"}}`),
		"long s keeps noNewPrivileges": []byte(`{"process":{"user":{"uid":1000},"noNewPrivilege\u017f":false,"noNewPrivileges":true},"linux":{"readonlyPaths":["/proc/sys"]},"annotations":{"io.crhook.restore":"true"}}`),
		"long s keeps maskedPaths":     []byte(`{"process":{"user":{"uid":1000}},"linux":{"ma\u017fkedPaths":[],"maskedPaths":["/proc/kcore"]},"annotations":{"io.crhook.restore":"true"}}`),
		"case-variant syscalls":        []byte(`{"process":{"user":{"uid":1000}},"linux":{"readonlyPaths":["/proc/sys"],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","Syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}},"annotations":{"io.crhook.restore":"true"}}`),
	}
	return fixtures
}

func readFixture(f *testing.F, name string) []byte {
	f.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return raw
}

// FuzzAdjust feeds Adjust arbitrary spec bytes under arbitrary admin
// policies and modes, and checks the promises crhook makes about its edit.
func FuzzAdjust(f *testing.F) {
	seedModes := [][2]byte{{0, 0}, {0x07, injectBit}, {0x20, 0}, {0x40, injectBit}, {0, 0x13}, {0x07, 0x0b | injectBit}, {0x27, 0x0f},
		{0, 0x40}, {0x07, 0x4b | injectBit}, {0xa7, 0x4f}, {0, 0x80}, {0x07, 0xc0 | injectBit}}
	fixtures := fuzzFixtures(f)
	for _, name := range slices.Sorted(maps.Keys(fixtures)) {
		for _, m := range seedModes {
			f.Add(fixtures[name], m[0], m[1])
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, policy, mode byte) {
		opts := fuzzOptions(policy, mode)
		if mode&injectBit == 0 {
			checkAdjust(t, raw, opts)
			return
		}
		if injected, ok := injectMember(raw); ok {
			res, _ := checkAdjust(t, injected, opts)
			checkMemberKept(t, res)
		}
	})
}

// FuzzAdjustAnnotations fuzzes the two opt-in annotation values of the
// real podman bundle, the part of a spec a container's user controls.
func FuzzAdjustAnnotations(f *testing.F) {
	base := readFixture(f, "podman-user1000.json")
	seeds := []struct {
		restore, profile string
		withProfile      bool
	}{
		{"true", "", false},
		{"true", "minimal", true},
		{"true", "restore", true},
		{"true", "checkpoint", true},
		{"false", "restore", true},
		{"TRUE", "", false},
		{"", "", false},
		{"true; CAP_SYS_ADMIN", "", false},
		{"true", "minimal; CAP_SYS_ADMIN", true},
		{"true", "sysadmin", true},
		{"true", "Minimal", true},
		{"true", strings.Repeat("x", 4096), true},
		{"true", "minimal\n", true},
		{"true\x00", "\xff\xfe", true},
	}
	for _, s := range seeds {
		f.Add(s.restore, s.profile, s.withProfile, byte(0), byte(0))
		f.Add(s.restore, s.profile, s.withProfile, byte(0x07), byte(0x03))
	}
	f.Fuzz(func(t *testing.T, restore, profile string, withProfile bool, policy, mode byte) {
		opts := fuzzOptions(policy, mode)
		raw, err := withAnnotations(base, restore, profile, withProfile)
		if err != nil {
			t.Fatal(err)
		}
		res, err := checkAdjust(t, raw, opts)
		checkAnnotationOutcome(t, res, err, opts, restore, profile, withProfile)
	})
}

// checkAdjust runs Adjust on raw and fails t when a promise is broken:
// errors are bad input or one of the refusals; a refused or untouched
// spec comes back byte for byte; an adjusted one parses, adjusts to
// itself, keeps /proc/sys read-only, gains no capability beyond its
// profile and passes createRuntime's checks. It returns Adjust's result.
func checkAdjust(t *testing.T, raw []byte, opts Options) (Result, error) {
	t.Helper()
	res, err := Adjust(raw, opts)
	if !opts.OptIn && opts.RuntimeOptIn == "" && cannotOptIn(raw) {
		// Never named the opt-in: passed on as it is, whatever its shape.
		if err != nil || res.Changed || !bytes.Equal(res.Output, raw) || res.Request.OptedIn {
			t.Fatalf("a spec that cannot opt in was not passed on byte for byte: err %v, changed %v", err, res.Changed)
		}
		return res, err
	}
	in, parseErr := Parse(raw)
	if parseErr != nil {
		if !errors.Is(parseErr, errkind.ErrBadInput) {
			t.Fatalf("Parse error is not bad input: %v", parseErr)
		}
		if !errors.Is(err, errkind.ErrBadInput) || res.Output != nil || res.Changed {
			t.Fatalf("input Parse rejects: Adjust gave err %v, output %d bytes, changed %v", err, len(res.Output), res.Changed)
		}
		return res, err
	}
	if err != nil {
		if !isRefusal(err) {
			t.Fatalf("Adjust error is neither bad input nor a refusal: %v", err)
		}
		if strings.Contains(err.Error(), "\n") && !isJoined(err) {
			t.Errorf("error spans lines: %q", err)
		}
		if res.Changed || !bytes.Equal(res.Output, raw) {
			t.Fatalf("refused spec (%v) did not come back unchanged", err)
		}
		return res, err
	}
	if !res.Changed {
		if !bytes.Equal(res.Output, raw) || len(res.Changes) > 0 {
			t.Fatalf("unchanged spec did not come back byte for byte (changes %v)", res.Changes)
		}
		if res.Request.OptedIn {
			checkVerifies(t, in, res.Request, opts.Policy)
		}
		return res, err
	}
	checkAdjustedOutput(t, raw, in, res, opts)
	return res, err
}

// checkAdjustedOutput holds a spec Adjust changed to its promises: the
// output parses, adjusts to itself, keeps /proc/sys read-only, gains no
// capability beyond the profile, passes createRuntime's checks and keeps
// what crhook does not edit.
func checkAdjustedOutput(t *testing.T, raw []byte, in *specs.Spec, res Result, opts Options) {
	t.Helper()
	if len(res.Changes) == 0 {
		t.Error("changed spec lists no changes")
	}
	out, outErr := Parse(res.Output)
	if outErr != nil {
		t.Fatalf("output does not parse: %v\n%s", outErr, res.Output)
	}
	again, againErr := Adjust(res.Output, opts)
	if againErr != nil {
		t.Fatalf("adjusting the output again: %v\n%s", againErr, res.Output)
	}
	if again.Changed || !bytes.Equal(again.Output, res.Output) {
		t.Fatalf("adjusting twice is not adjusting once: second run changed %v\ninput:  %s\noutput: %s", again.Changes, raw, res.Output)
	}
	if ProcSysRule(in, testSources) != "" && ProcSysRule(out, testSources) == "" {
		t.Fatalf("/proc/sys was read-only (%s) and is writable after Adjust\ninput:  %s\noutput: %s", ProcSysRule(in, testSources), raw, res.Output)
	}
	checkAddedCaps(t, in, out, opts.Policy, res.Request.Profile)
	checkVerifies(t, out, res.Request, opts.Policy)
	checkUntouched(t, raw, res.Output, checkSeccompRemoval(t, in, out, res.Request, opts.Policy))
}

// checkSeccompRemoval reports whether Adjust dropped the seccomp filter,
// failing t unless that was the admin's checkpoint_seccomp = "remove" for
// a checkpoint container.
func checkSeccompRemoval(t *testing.T, in, out *specs.Spec, req Request, policy Policy) bool {
	t.Helper()
	hadFilter := in.Linux != nil && InstallsFilter(in.Linux.Seccomp)
	if !hadFilter || (out.Linux != nil && out.Linux.Seccomp != nil) {
		return false
	}
	if req.Profile != ProfileCheckpoint || policy.CheckpointSeccomp != CheckpointSeccompRemove {
		t.Fatalf("the seccomp filter was removed for profile %q under checkpoint_seccomp=%q", req.Profile, policy.CheckpointSeccomp)
	}
	return true
}

// checkUntouched asserts that Adjust edits only what it documents: with
// those members set aside, the spec reads the same to Go's decoder (and so
// to runc) before and after. Members that swap meaning when an object is
// re-encoded (a key repeated in another spelling) show up here.
func checkUntouched(t *testing.T, raw, output []byte, seccompRemoved bool) {
	t.Helper()
	before, errBefore := withoutEdits(raw, seccompRemoved)
	after, errAfter := withoutEdits(output, seccompRemoved)
	if errBefore != nil || errAfter != nil {
		// A member crhook does not decide on has the wrong type: Parse
		// leaves that to the runtime, which must reject both alike.
		if (errBefore == nil) != (errAfter == nil) {
			t.Fatalf("Go's decoder reads the input (%v) and the output (%v) differently", errBefore, errAfter)
		}
		return
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("Adjust changed members it does not edit\nbefore: %s\nafter:  %s", encode(t, before), encode(t, after))
	}
}

// withoutEdits decodes all of raw as runc does and clears what Adjust may
// edit: the capability sets, crhook's annotations and hooks, /proc/sys in
// linux.readonlyPaths and clone3 in seccomp rules, and the whole seccomp
// profile when Adjust removed it.
func withoutEdits(raw []byte, seccompRemoved bool) (*specs.Spec, error) {
	s := &specs.Spec{}
	if err := json.Unmarshal(raw, s); err != nil {
		return nil, err
	}
	if s.Process != nil {
		s.Process.Capabilities = nil
	}
	delete(s.Annotations, AnnotationRestore)
	delete(s.Annotations, AnnotationProfile)
	if len(s.Annotations) == 0 {
		s.Annotations = nil
	}
	if s.Hooks != nil {
		isOurs := func(h specs.Hook) bool {
			return slices.ContainsFunc(slices.Collect(maps.Values(fuzzHooks)), func(o specs.Hook) bool { return sameHook(h, o) })
		}
		s.Hooks.CreateRuntime = nilIfEmpty(slices.DeleteFunc(s.Hooks.CreateRuntime, isOurs))
		s.Hooks.Poststart = nilIfEmpty(slices.DeleteFunc(s.Hooks.Poststart, isOurs))
		s.Hooks = zeroToNil(s.Hooks)
	}
	if s.Linux != nil {
		s.Linux.ReadonlyPaths = nilIfEmpty(slices.DeleteFunc(s.Linux.ReadonlyPaths, func(p string) bool { return p == ProcSys }))
		if seccompRemoved {
			s.Linux.Seccomp = nil
		}
		if sc := s.Linux.Seccomp; sc != nil {
			var rules []specs.LinuxSyscall
			for _, r := range sc.Syscalls {
				r.Names = slices.DeleteFunc(r.Names, func(n string) bool { return n == Clone3 })
				if len(r.Names) > 0 {
					rules = append(rules, r)
				}
			}
			sc.Syscalls = rules
		}
		s.Linux = zeroToNil(s.Linux)
	}
	return s, nil
}

func nilIfEmpty[T any](list []T) []T {
	if len(list) == 0 {
		return nil
	}
	return list
}

// zeroToNil returns nil for a pointer to a zero value, so that an object
// Adjust created empty compares equal to an absent one.
func zeroToNil[T any](p *T) *T {
	if p == nil || reflect.ValueOf(*p).IsZero() {
		return nil
	}
	return p
}

// isRefusal reports whether err is one of the errors Adjust documents.
func isRefusal(err error) bool {
	for _, target := range []error{errkind.ErrBadInput, ErrNotAllowed, ErrProcSysWritable, ErrClone3Blocked, ErrSeccompDump, ErrSharedPID} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func isJoined(err error) bool {
	_, ok := err.(interface{ Unwrap() []error })
	return ok
}

// checkAddedCaps compares every capability set of in and out: whatever
// out holds that in did not must come from the granted profile and from
// the admin's allowed profiles, and is never CAP_SYS_ADMIN.
func checkAddedCaps(t *testing.T, in, out *specs.Spec, policy Policy, granted Profile) {
	t.Helper()
	var allowed []string
	for _, p := range policy.AllowedProfiles {
		allowed = append(allowed, p.Capabilities()...)
	}
	for _, set := range []CapSet{Bounding, Effective, Permitted, Inheritable, Ambient} {
		before := capsOf(in, set)
		for _, c := range capsOf(out, set) {
			if containsCap(before, c) {
				continue
			}
			switch {
			case sameCap(c, "CAP_SYS_ADMIN"):
				t.Fatalf("%s gained CAP_SYS_ADMIN", set)
			case !containsCap(allowed, c):
				t.Fatalf("%s gained %s, which no allowed profile (%v) grants", set, c, policy.AllowedProfiles)
			case !containsCap(granted.Capabilities(), c):
				t.Fatalf("%s gained %s, which profile %q does not grant", set, c, granted)
			}
		}
	}
}

func capsOf(s *specs.Spec, set CapSet) []string {
	if s.Process == nil {
		return nil
	}
	return setOf(s.Process.Capabilities, set)
}

func containsCap(list []string, c string) bool {
	return slices.ContainsFunc(list, func(h string) bool { return sameCap(h, c) })
}

// checkVerifies asserts what Adjust is for: createRuntime, reading the
// same spec the runtime reads, accepts an opted-in spec Adjust passed.
func checkVerifies(t *testing.T, s *specs.Spec, req Request, policy Policy) {
	t.Helper()
	if !slices.Contains(policy.AllowedProfiles, req.Profile) {
		t.Fatalf("granted profile %q is not allowed (%v)", req.Profile, policy.AllowedProfiles)
	}
	if err := Verify(s, req, Host{CapLastCap: CapCheckpointRestoreNumber, Sources: testSources}); err != nil {
		t.Fatalf("createRuntime would refuse what Adjust passed: %v", err)
	}
}

// injectMember adds fuzzMemberKey as the first member of raw's top-level
// object, working on the bytes so that whatever else raw holds
// (duplicates, odd spacing, odd spelling) reaches Adjust as it was.
func injectMember(raw []byte) ([]byte, bool) {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, false
	}
	at := len(raw) - len(trimmed) + 1
	sep := ","
	if rest := bytes.TrimLeft(raw[at:], " \t\r\n"); len(rest) > 0 && rest[0] == '}' {
		sep = ""
	}
	out := slices.Concat(raw[:at], []byte(`"`+fuzzMemberKey+`":`+fuzzMemberValue+sep), raw[at:])
	return out, true
}

// checkMemberKept asserts the injected member reached the output as it was.
func checkMemberKept(t *testing.T, res Result) {
	t.Helper()
	if res.Output == nil {
		return
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(res.Output, &top); err != nil {
		t.Fatalf("output is not an object: %v", err)
	}
	got, ok := top[fuzzMemberKey]
	if !ok {
		t.Fatalf("unknown member %s was dropped", fuzzMemberKey)
	}
	var gotBuf, wantBuf bytes.Buffer
	if err := json.Compact(&gotBuf, got); err != nil {
		t.Fatal(err)
	}
	if err := json.Compact(&wantBuf, []byte(fuzzMemberValue)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotBuf.Bytes(), wantBuf.Bytes()) {
		t.Fatalf("unknown member %s changed: %s, want %s", fuzzMemberKey, gotBuf.Bytes(), wantBuf.Bytes())
	}
}

// withAnnotations sets the opt-in annotations of the spec raw, leaving
// every other member's bytes alone.
func withAnnotations(raw []byte, restore, profile string, withProfile bool) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	annotations := map[string]string{}
	if a, ok := top["annotations"]; ok {
		if err := json.Unmarshal(a, &annotations); err != nil {
			return nil, err
		}
	}
	annotations[AnnotationRestore] = restore
	delete(annotations, AnnotationProfile)
	if withProfile {
		annotations[AnnotationProfile] = profile
	}
	a, err := marshal(annotations)
	if err != nil {
		return nil, err
	}
	top["annotations"] = a
	return marshal(top)
}

// checkAnnotationOutcome predicts, from the annotation values alone, what
// Adjust must do with the podman bundle (whose /proc/sys is read-only and
// whose seccomp allows clone3, so only its seccomp filter can refuse it,
// and only the checkpoint profile).
func checkAnnotationOutcome(t *testing.T, res Result, err error, opts Options, restore, profile string, withProfile bool) {
	t.Helper()
	if opts.OptIn {
		restore = "true"
		switch {
		case opts.Profile != "":
			profile, withProfile = string(opts.Profile), true
		case !withProfile:
			profile, withProfile = string(opts.Policy.DefaultProfile), true
		}
	}
	if err != nil {
		if len(err.Error()) > 1024 || strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("error does not fit one short line (%d bytes): %.200q", len(err.Error()), err)
		}
	}
	want := Profile(profile)
	if !withProfile {
		want = opts.Policy.DefaultProfile
	}
	var wantErr error
	switch {
	case restore == "false":
		if err != nil || res.Request.OptedIn || res.Changed {
			t.Fatalf("restore=false: err %v, opted in %v, changed %v", err, res.Request.OptedIn, res.Changed)
		}
		return
	case restore != "true":
		wantErr = errkind.ErrBadInput
	case !slices.Contains(Profiles, want):
		wantErr = errkind.ErrBadInput
	case !opts.Policy.Allows(want):
		wantErr = ErrNotAllowed
	case want == ProfileCheckpoint && opts.Policy.CheckpointSeccomp == CheckpointSeccompRefuse:
		wantErr = ErrSeccompDump
	}
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("restore=%q profile=%q (set %v): err %v, want %v", restore, profile, withProfile, err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("restore=%q profile=%q: %v", restore, profile, err)
	}
	if !res.Request.OptedIn || res.Request.Profile != want {
		t.Fatalf("request %+v, want profile %q", res.Request, want)
	}
}
