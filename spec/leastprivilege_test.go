package spec

import (
	"errors"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/errkind"
)

// TestLeastPrivilege is the table of attempts to obtain more than the
// admin allows, with what crhook does about each. docs/security.md lists
// the same table.
func TestLeastPrivilege(t *testing.T) {
	for _, tt := range leastPrivilegeCases() {
		t.Run(tt.name, func(t *testing.T) { checkLeastPrivilegeCase(t, tt) })
	}
}

// leastPrivilegeCase is one attempt, made through the spec, to obtain
// more than the admin allows.
type leastPrivilegeCase struct {
	name string
	edit func(*specs.Spec)
	// wantErr is the refusal; nil means crhook adjusts the spec.
	wantErr error
	// wantCaps is every capability the adjusted spec may hold beyond the
	// input's: never more than the profile.
	wantCaps []string
}

func leastPrivilegeCases() []leastPrivilegeCase {
	withAnnotations := func(kv ...string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Annotations = map[string]string{}
			for i := 0; i+1 < len(kv); i += 2 {
				s.Annotations[kv[i]] = kv[i+1]
			}
		}
	}
	return []leastPrivilegeCase{
		{name: "capability smuggled into the opt-in value", edit: withAnnotations(AnnotationRestore, "true; CAP_SYS_ADMIN"), wantErr: errkind.ErrBadInput},
		{name: "capability named as the profile", edit: withAnnotations(AnnotationRestore, "true", AnnotationProfile, "CAP_SYS_ADMIN"), wantErr: errkind.ErrBadInput},
		{name: "profile the admin did not allow", edit: withAnnotations(AnnotationRestore, "true", AnnotationProfile, "checkpoint"), wantErr: ErrNotAllowed},
		{name: "profile list in one annotation", edit: withAnnotations(AnnotationRestore, "true", AnnotationProfile, "minimal,checkpoint"), wantErr: errkind.ErrBadInput},
		{name: "profile without opting in", edit: withAnnotations(AnnotationProfile, "restore")},
		{name: "pod sandbox with the pod's annotations", edit: withAnnotations(AnnotationRestore, "true", AnnotationContainerdType, "sandbox")},
		{
			name: "duplicate opt-in keys, one false",
			edit: withAnnotations(AnnotationRestore, "true"),
			// Built by checkLeastPrivilegeCase as raw JSON: a spec cannot
			// hold duplicates.
			wantErr: errkind.ErrBadInput,
		},
		{
			name: "config already grants CAP_SYS_ADMIN",
			edit: func(s *specs.Spec) {
				withAnnotations(AnnotationRestore, "true")(s)
				c := s.Process.Capabilities
				c.Bounding = append(c.Bounding, "CAP_SYS_ADMIN")
				c.Effective = append(c.Effective, "CAP_SYS_ADMIN")
			},
			wantCaps: []string{CapCheckpointRestore},
		},
		{
			name:    "writable /proc/sys",
			edit:    func(s *specs.Spec) { withAnnotations(AnnotationRestore, "true")(s); s.Linux.ReadonlyPaths = nil },
			wantErr: ErrProcSysWritable,
		},
		{
			name:     "restore profile",
			edit:     withAnnotations(AnnotationRestore, "true", AnnotationProfile, "restore"),
			wantCaps: []string{CapCheckpointRestore, "CAP_SETPCAP"},
		},
	}
}

// checkLeastPrivilegeCase makes tt's attempt on runc's default spec and
// checks that crhook refuses it or grants no more than tt allows.
func checkLeastPrivilegeCase(t *testing.T, tt leastPrivilegeCase) {
	t.Helper()
	s := runcSpec(t)
	tt.edit(s)
	in := encode(t, s)
	if strings.HasPrefix(tt.name, "duplicate") {
		in = []byte(strings.Replace(string(in), `"annotations":{`, `"annotations":{"`+AnnotationRestore+`":"false",`, 1))
	}
	res, err := Adjust(in, Options{Sources: testSources, Policy: DefaultPolicy()})
	if tt.wantErr != nil {
		if !errors.Is(err, tt.wantErr) {
			t.Fatalf("err = %v, want %v", err, tt.wantErr)
		}
		if res.Changed {
			t.Fatal("a refused spec must not change")
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(tt.wantCaps) == 0 {
		if res.Changed || res.Request.OptedIn {
			t.Fatalf("nothing may be granted: %v", res.Changes)
		}
		return
	}
	out, err := Parse(res.Output)
	if err != nil {
		t.Fatal(err)
	}
	assertGainsOnly(t, s, out, tt.wantCaps)
}

// assertGainsOnly checks that out holds no capability beyond in's and
// allowed, and that CAP_SYS_ADMIN, which crhook never grants or revokes,
// is where in had it.
func assertGainsOnly(t *testing.T, in, out *specs.Spec, allowed []string) {
	t.Helper()
	for _, set := range []CapSet{Bounding, Effective, Permitted, Inheritable, Ambient} {
		for _, c := range setOf(out.Process.Capabilities, set) {
			if !slices.Contains(setOf(in.Process.Capabilities, set), c) && !slices.Contains(allowed, c) {
				t.Errorf("%s gained %s", set, c)
			}
		}
		if slices.Contains(setOf(out.Process.Capabilities, set), "CAP_SYS_ADMIN") != slices.Contains(setOf(in.Process.Capabilities, set), "CAP_SYS_ADMIN") {
			t.Errorf("%s: crhook changed CAP_SYS_ADMIN; it neither grants nor revokes it", set)
		}
	}
}
