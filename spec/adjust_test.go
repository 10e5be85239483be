package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/errkind"
)

// adjustCase is one spec given to Adjust and what must come of it.
type adjustCase struct {
	name    string
	spec    *specs.Spec
	opts    Options
	wantErr error
	// wantSets lists the sets that must hold every cap of wantProfile.
	wantProfile Profile
	wantSets    []CapSet
	// wantSeccompEdit says whether clone3 had to be let through.
	wantSeccompEdit bool
	// wantNoSeccomp says the seccomp profile must be gone.
	wantNoSeccomp bool
	wantHooks     bool
}

func TestAdjust(t *testing.T) {
	tests := slices.Concat(adjustUserCases(t), adjustClone3Cases(t), adjustProcSysCases(t),
		adjustCheckpointCases(t), adjustBadInputCases(t), adjustPatchCases(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkAdjustCase(t, tt) })
	}
}

// adjustUserCases grant the profile to the process's user, whoever it is.
func adjustUserCases(t *testing.T) []adjustCase {
	return []adjustCase{
		{
			name:        "runc default as uid 1000, minimal",
			spec:        optIn(runcSpec(t), ""),
			wantProfile: ProfileMinimal,
			wantSets:    RequiredSets(1000),
		},
		{
			name:        "uid 0 needs no ambient",
			spec:        func() *specs.Spec { s := optIn(runcSpec(t), "restore"); s.Process.User.UID = 0; return s }(),
			wantProfile: ProfileRestore,
			wantSets:    RequiredSets(0),
		},
		{
			name:        "podman bundle with --user 1000",
			spec:        loadSpec(t, "podman-user1000.json"),
			wantProfile: ProfileMinimal,
			wantSets:    RequiredSets(1000),
		},
	}
}

// adjustClone3Cases open clone3 in a seccomp filter, or refuse to when
// the policy or another rule says no.
func adjustClone3Cases(t *testing.T) []adjustCase {
	closedClone3 := DefaultPolicy()
	closedClone3.OpenClone3 = false
	return []adjustCase{
		{
			name:            "docker seccomp gets clone3 opened",
			spec:            optIn(withDockerSeccomp(t, runcSpec(t)), ""),
			wantProfile:     ProfileMinimal,
			wantSets:        RequiredSets(1000),
			wantSeccompEdit: true,
		},
		{
			name:    "docker seccomp with clone3 kept closed by policy",
			spec:    optIn(withDockerSeccomp(t, runcSpec(t)), ""),
			opts:    Options{Sources: testSources, Policy: closedClone3},
			wantErr: ErrClone3Blocked,
		},
		{
			name: "a clone3 rule for a seccomp agent is never edited",
			spec: func() *specs.Spec {
				s := optIn(withDockerSeccomp(t, runcSpec(t)), "")
				s.Linux.Seccomp.Syscalls = append([]specs.LinuxSyscall{{Names: []string{Clone3, "clone"}, Action: specs.ActNotify}}, s.Linux.Seccomp.Syscalls...)
				return s
			}(),
			wantErr: ErrClone3Blocked,
		},
		{
			name: "a clone3 rule for a tracer is never edited",
			spec: func() *specs.Spec {
				s := optIn(withDockerSeccomp(t, runcSpec(t)), "")
				s.Linux.Seccomp.Syscalls = append([]specs.LinuxSyscall{{Names: []string{Clone3}, Action: specs.ActTrace}}, s.Linux.Seccomp.Syscalls...)
				return s
			}(),
			wantErr: ErrClone3Blocked,
		},
		{
			name: "a default action for a seccomp agent is not bypassed",
			spec: func() *specs.Spec {
				s := optIn(runcSpec(t), "")
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActNotify, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}}
				return s
			}(),
			wantErr: ErrClone3Blocked,
		},
	}
}

// adjustProcSysCases refuse a writable /proc/sys unless the admin lets
// crhook make it read-only.
func adjustProcSysCases(t *testing.T) []adjustCase {
	addReadonly := DefaultPolicy()
	addReadonly.ProcSys = ProcSysAddReadonly
	writable := func(s *specs.Spec) *specs.Spec {
		s.Linux.ReadonlyPaths = slices.DeleteFunc(s.Linux.ReadonlyPaths, func(p string) bool { return p == ProcSys })
		return s
	}
	return []adjustCase{
		{
			name:    "writable /proc/sys is refused",
			spec:    optIn(writable(runcSpec(t)), ""),
			wantErr: ErrProcSysWritable,
		},
		{
			name:        "writable /proc/sys made read-only when the admin says so",
			spec:        optIn(writable(runcSpec(t)), ""),
			opts:        Options{Sources: testSources, Policy: addReadonly},
			wantProfile: ProfileMinimal,
			wantSets:    RequiredSets(1000),
		},
	}
}

// adjustCheckpointCases grant the checkpoint profile only when allowed,
// and under a seccomp filter only when the admin chose to drop it.
func adjustCheckpointCases(t *testing.T) []adjustCase {
	checkpointAllowed := DefaultPolicy()
	checkpointAllowed.AllowedProfiles = Profiles
	removeSeccomp := checkpointAllowed
	removeSeccomp.CheckpointSeccomp = CheckpointSeccompRemove
	refuseSeccomp := checkpointAllowed
	refuseSeccomp.CheckpointSeccomp = CheckpointSeccompRefuse
	return []adjustCase{
		{
			name:    "checkpoint profile is not allowed by default",
			spec:    optIn(runcSpec(t), "checkpoint"),
			wantErr: ErrNotAllowed,
		},
		{
			name:        "checkpoint without a seccomp profile",
			spec:        optIn(runcSpec(t), "checkpoint"),
			opts:        Options{Sources: testSources, Policy: checkpointAllowed},
			wantProfile: ProfileCheckpoint,
			wantSets:    RequiredSets(1000),
		},
		{
			name:            "checkpoint under a seccomp filter keeps it by default: restores work there",
			spec:            optIn(withDockerSeccomp(t, runcSpec(t)), "checkpoint"),
			opts:            Options{Sources: testSources, Policy: checkpointAllowed},
			wantProfile:     ProfileCheckpoint,
			wantSets:        RequiredSets(1000),
			wantSeccompEdit: true,
		},
		{
			name:    "checkpoint under a seccomp filter, admin chose checkpoint_seccomp = refuse",
			spec:    optIn(withDockerSeccomp(t, runcSpec(t)), "checkpoint"),
			opts:    Options{Sources: testSources, Policy: refuseSeccomp},
			wantErr: ErrSeccompDump,
		},
		{
			name:            "checkpoint under a seccomp filter, admin chose checkpoint_seccomp = remove",
			spec:            optIn(withDockerSeccomp(t, runcSpec(t)), "checkpoint"),
			opts:            Options{Sources: testSources, Policy: removeSeccomp},
			wantProfile:     ProfileCheckpoint,
			wantSets:        RequiredSets(1000),
			wantSeccompEdit: true,
			wantNoSeccomp:   true,
		},
		{
			name:            "checkpoint_seccomp = remove leaves other profiles' filters alone",
			spec:            optIn(withDockerSeccomp(t, runcSpec(t)), "restore"),
			opts:            Options{Sources: testSources, Policy: removeSeccomp},
			wantProfile:     ProfileRestore,
			wantSets:        RequiredSets(1000),
			wantSeccompEdit: true,
		},
	}
}

// adjustBadInputCases are specs crhook cannot read safely.
func adjustBadInputCases(t *testing.T) []adjustCase {
	return []adjustCase{
		{
			name:    "hostile profile value",
			spec:    optIn(runcSpec(t), "minimal; CAP_SYS_ADMIN"),
			wantErr: errkind.ErrBadInput,
		},
		{
			name: "hostile opt-in value",
			spec: func() *specs.Spec {
				s := optIn(runcSpec(t), "")
				s.Annotations[AnnotationRestore] = "true; CAP_SYS_ADMIN"
				return s
			}(),
			wantErr: errkind.ErrBadInput,
		},
		{
			name:    "no process",
			spec:    func() *specs.Spec { s := optIn(runcSpec(t), ""); s.Process = nil; return s }(),
			wantErr: errkind.ErrBadInput,
		},
	}
}

// adjustPatchCases opt in through Options, as crhook patch does, rather
// than through annotations.
func adjustPatchCases(t *testing.T) []adjustCase {
	hooks := map[string]specs.Hook{
		"createRuntime": {Path: "/usr/local/bin/crhook", Args: []string{"crhook", "createRuntime"}},
		"poststart":     {Path: "/usr/local/bin/crhook", Args: []string{"crhook", "poststart"}},
	}
	return []adjustCase{
		{
			name:        "patch opts in and registers hooks",
			spec:        runcSpec(t),
			opts:        Options{Sources: testSources, OptIn: true, Profile: ProfileRestore, Hooks: hooks, Indent: true},
			wantProfile: ProfileRestore,
			wantSets:    RequiredSets(1000),
			wantHooks:   true,
		},
	}
}

// checkAdjustCase runs Adjust on tt's spec and checks the result against
// what tt wants.
func checkAdjustCase(t *testing.T, tt adjustCase) {
	t.Helper()
	if tt.opts.Policy.DefaultProfile == "" {
		tt.opts.Policy = DefaultPolicy()
	}
	if tt.opts.Sources == nil {
		tt.opts.Sources = testSources
	}
	in := withExtension(t, encode(t, tt.spec))
	res, err := Adjust(in, tt.opts)
	if tt.wantErr != nil {
		if !errors.Is(err, tt.wantErr) {
			t.Fatalf("err = %v, want %v", err, tt.wantErr)
		}
		if !bytes.Equal(res.Output, in) {
			t.Fatal("a refused spec must come back unchanged")
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || len(res.Changes) == 0 {
		t.Fatal("expected changes")
	}
	out, err := Parse(res.Output)
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	checkAdjustedCaps(t, tt, res, out)
	checkAdjustedConfinement(t, tt, res, out)
	assertExtensionKept(t, res.Output)
	if tt.wantHooks {
		checkAdjustedHooks(t, tt, res, out)
	}
	checkAdjustIsIdempotent(t, tt.opts, res)
}

// checkAdjustedCaps checks the profile granted: every wanted set holds
// all its capabilities, and nothing beyond it was added.
func checkAdjustedCaps(t *testing.T, tt adjustCase, res Result, out *specs.Spec) {
	t.Helper()
	if res.Request.Profile != tt.wantProfile {
		t.Errorf("profile = %q, want %q", res.Request.Profile, tt.wantProfile)
	}
	for _, set := range tt.wantSets {
		for _, c := range tt.wantProfile.Capabilities() {
			if !slices.Contains(setOf(out.Process.Capabilities, set), c) {
				t.Errorf("%s lacks %s", set, c)
			}
		}
	}
	assertAddsOnlyProfileCaps(t, tt.spec, out, tt.wantProfile)
}

// checkAdjustedConfinement checks /proc/sys stays read-only, clone3 gets
// through, and seccomp was edited or removed only as tt says.
func checkAdjustedConfinement(t *testing.T, tt adjustCase, res Result, out *specs.Spec) {
	t.Helper()
	if ProcSysRule(out, testSources) == "" {
		t.Error("output has writable /proc/sys")
	}
	if v := Clone3Verdict(out.Linux.Seccomp); !v.Allowed {
		t.Errorf("clone3 still blocked: %s", v.Why)
	}
	if gone := InstallsFilter(tt.spec.Linux.Seccomp) && out.Linux.Seccomp == nil; gone != tt.wantNoSeccomp {
		t.Errorf("seccomp removed = %v, want %v", gone, tt.wantNoSeccomp)
	}
	if edited := strings.Contains(strings.Join(res.Changes, "\n"), "seccomp"); edited != tt.wantSeccompEdit {
		t.Errorf("seccomp edited = %v, want %v (changes: %v)", edited, tt.wantSeccompEdit, res.Changes)
	}
}

// checkAdjustedHooks checks that every hook asked for is registered and
// the opt-in annotations were written.
func checkAdjustedHooks(t *testing.T, tt adjustCase, res Result, out *specs.Spec) {
	t.Helper()
	full := decodeFull(t, res.Output)
	for stage, h := range tt.opts.Hooks {
		if !slices.ContainsFunc(hooksOf(full, stage), func(got specs.Hook) bool { return sameHook(got, h) }) {
			t.Errorf("hook %s not registered", stage)
		}
	}
	if out.Annotations[AnnotationRestore] != "true" || out.Annotations[AnnotationProfile] != string(tt.wantProfile) {
		t.Errorf("annotations = %v", out.Annotations)
	}
}

// checkAdjustIsIdempotent adjusts the output again, which Adjust
// promises changes nothing.
func checkAdjustIsIdempotent(t *testing.T, opts Options, res Result) {
	t.Helper()
	again, err := Adjust(res.Output, opts)
	if err != nil {
		t.Fatalf("second adjust: %v", err)
	}
	if again.Changed || !bytes.Equal(again.Output, res.Output) {
		t.Errorf("second adjust changed %v", again.Changes)
	}
}

func hooksOf(s *specs.Spec, stage string) []specs.Hook {
	if s.Hooks == nil {
		return nil
	}
	switch stage {
	case "createRuntime":
		return s.Hooks.CreateRuntime
	case "poststart":
		return s.Hooks.Poststart
	}
	return nil
}

// assertAddsOnlyProfileCaps checks least privilege: every capability the
// output holds that the input did not is one of the profile's.
func assertAddsOnlyProfileCaps(t *testing.T, in, out *specs.Spec, p Profile) {
	t.Helper()
	for _, set := range []CapSet{Bounding, Effective, Permitted, Inheritable, Ambient} {
		for _, c := range setOf(out.Process.Capabilities, set) {
			if !slices.Contains(setOf(in.Process.Capabilities, set), c) && !slices.Contains(p.Capabilities(), c) {
				t.Errorf("%s gained %s, which profile %s does not grant", set, c, p)
			}
		}
	}
}

func assertExtensionKept(t *testing.T, raw []byte) {
	t.Helper()
	for _, member := range []string{`"org.example.future":{"nested":[1.5,"x<&>"]}`, `"org.example.process":true`,
		`"org.example.caps":"kept"`, `"org.example.linux":42`} {
		if !bytes.Contains(compact(t, raw), []byte(member)) {
			t.Errorf("unknown member %s was lost", member)
		}
	}
	if bytes.Contains(raw, []byte(`"org.example.seccomp"`)) != bytes.Contains(raw, []byte(`"seccomp"`)) {
		t.Error("unknown seccomp member was lost")
	}
}

func compact(t *testing.T, raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAdjustNotOptedInIsByteIdentical(t *testing.T) {
	for _, name := range []string{"runc-spec.json", "podman-user1000.json"} {
		t.Run(name, func(t *testing.T) {
			s := loadSpec(t, name)
			delete(s.Annotations, AnnotationRestore)
			in := append(withExtension(t, encode(t, s)), "\n  "...)
			res, err := Adjust(in, Options{Sources: testSources, Policy: DefaultPolicy()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Changed || res.Request.OptedIn || !bytes.Equal(res.Output, in) {
				t.Fatal("a spec that did not opt in must pass through byte for byte")
			}
		})
	}
}

func TestAdjustOpensOnlyClone3(t *testing.T) {
	s := optIn(withDockerSeccomp(t, runcSpec(t)), "")
	in := encode(t, s)
	res, err := Adjust(in, Options{Sources: testSources, Policy: DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Parse(res.Output)
	if err != nil {
		t.Fatal(err)
	}
	names := func(sc *specs.LinuxSeccomp) map[string]int {
		n := map[string]int{}
		for _, r := range sc.Syscalls {
			for _, name := range r.Names {
				if name != Clone3 {
					n[string(r.Action)+" "+name]++
				}
			}
		}
		return n
	}
	before, after := names(s.Linux.Seccomp), names(out.Linux.Seccomp)
	if len(before) != len(after) {
		t.Fatalf("rules for other syscalls changed: %d before, %d after", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("rule %s changed", k)
		}
	}
	if !strings.Contains(strings.Join(res.Changes, " "), "ENOSYS") {
		t.Errorf("changes do not say why clone3 was opened: %v", res.Changes)
	}
}

func TestAdjustRejectsMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"not json", "runc"},
		{"array", "[]"},
		{"truncated", `{"ociVersion":"1.0.2","process":{`},
		{"wrong type", `{"process":{"user":{"uid":"root"}},"annotations":{"io.crhook.restore":"true"}}`},
		{"duplicate key", `{"annotations":{"io.crhook.restore":"false","io.crhook.restore":"true"}}`},
		{"trailing data", `{"ociVersion":"1.0.2"} {}`},
		{"member in another case", `{"Process":{"user":{"uid":1000},"args":["sh"]},"linux":{"readonlyPaths":["/proc/sys"]},"annotations":{"io.crhook.restore":"true"}}`},
		{"seccomp rules in another case", `{"process":{"user":{"uid":0},"args":["sh"]},"linux":{"namespaces":[{"type":"pid"}],"readonlyPaths":["/proc/sys"],"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","Syscalls":[{"names":["clone3"],"action":"SCMP_ACT_ERRNO"}]}},"annotations":{"io.crhook.restore":"true"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Adjust([]byte(tt.in), Options{Sources: testSources, Policy: DefaultPolicy()})
			if !errors.Is(err, errkind.ErrBadInput) {
				t.Fatalf("err = %v, want bad input", err)
			}
		})
	}
}
