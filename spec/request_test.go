package spec

import (
	"errors"
	"strings"
	"testing"

	"github.com/crhook/crhook/internal/errkind"
)

func TestResolveRequest(t *testing.T) {
	all := DefaultPolicy()
	all.AllowedProfiles = Profiles
	tests := []struct {
		name        string
		annotations map[string]string
		policy      Policy
		want        Request
		wantErr     error
	}{
		{name: "no annotations"},
		{name: "profile alone does not opt in", annotations: map[string]string{AnnotationProfile: "restore"}},
		{name: "explicit false", annotations: map[string]string{AnnotationRestore: "false"}},
		{name: "default profile", annotations: map[string]string{AnnotationRestore: "true"}, want: Request{OptedIn: true, Profile: ProfileMinimal, CheckpointSeccomp: CheckpointSeccompKeep}},
		{name: "restore", annotations: map[string]string{AnnotationRestore: "true", AnnotationProfile: "restore"}, want: Request{OptedIn: true, Profile: ProfileRestore, CheckpointSeccomp: CheckpointSeccompKeep}},
		{name: "checkpoint when allowed", policy: all, annotations: map[string]string{AnnotationRestore: "true", AnnotationProfile: "checkpoint"}, want: Request{OptedIn: true, Profile: ProfileCheckpoint, CheckpointSeccomp: CheckpointSeccompKeep}},
		{name: "checkpoint when not allowed", annotations: map[string]string{AnnotationRestore: "true", AnnotationProfile: "checkpoint"}, wantErr: ErrNotAllowed},
		{name: "containerd pod sandbox gets nothing", annotations: map[string]string{AnnotationRestore: "true", AnnotationContainerdType: "sandbox"}},
		{name: "CRI-O pod sandbox gets nothing", annotations: map[string]string{AnnotationRestore: "true", AnnotationCRIOType: "sandbox"}},
		{name: "containerd app container", annotations: map[string]string{AnnotationRestore: "true", AnnotationContainerdType: "container"}, want: Request{OptedIn: true, Profile: ProfileMinimal, CheckpointSeccomp: CheckpointSeccompKeep}},
		{name: "TRUE is not true", annotations: map[string]string{AnnotationRestore: "TRUE"}, wantErr: errkind.ErrBadInput},
		{name: "injection", annotations: map[string]string{AnnotationRestore: "true; CAP_SYS_ADMIN"}, wantErr: errkind.ErrBadInput},
		{name: "unknown profile", annotations: map[string]string{AnnotationRestore: "true", AnnotationProfile: "sysadmin"}, wantErr: errkind.ErrBadInput},
		{name: "empty profile", annotations: map[string]string{AnnotationRestore: "true", AnnotationProfile: ""}, wantErr: errkind.ErrBadInput},
		{name: "huge profile", annotations: map[string]string{AnnotationRestore: "true", AnnotationProfile: strings.Repeat("A", 1<<20)}, wantErr: errkind.ErrBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.policy.DefaultProfile == "" {
				tt.policy = DefaultPolicy()
			}
			got, err := ResolveRequest(tt.annotations, tt.policy)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if err != nil && len(err.Error()) > 400 {
				t.Errorf("error is %d bytes long; a hostile value must not flood it", len(err.Error()))
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Policy)
		wantOK bool
	}{
		{name: "default", edit: func(*Policy) {}, wantOK: true},
		{name: "all profiles", edit: func(p *Policy) { p.AllowedProfiles = Profiles; p.DefaultProfile = ProfileCheckpoint }, wantOK: true},
		{name: "unknown allowed profile", edit: func(p *Policy) { p.AllowedProfiles = append(p.AllowedProfiles, "sysadmin") }},
		{name: "default not allowed", edit: func(p *Policy) { p.DefaultProfile = ProfileCheckpoint }},
		{name: "unknown default", edit: func(p *Policy) { p.DefaultProfile = "max" }},
		{name: "bad proc_sys", edit: func(p *Policy) { p.ProcSys = "ignore" }},
		{name: "nothing allowed", edit: func(p *Policy) { p.AllowedProfiles = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			tt.edit(&p)
			err := p.Validate()
			if (err == nil) != tt.wantOK {
				t.Fatalf("err = %v, want ok = %v", err, tt.wantOK)
			}
			if err != nil && !errors.Is(err, errkind.ErrBadInput) {
				t.Errorf("a bad policy is bad input, got %v", err)
			}
		})
	}
}

func TestProfilesNeverGrantSysAdmin(t *testing.T) {
	for _, p := range Profiles {
		for _, c := range p.Capabilities() {
			if strings.EqualFold(c, "CAP_SYS_ADMIN") {
				t.Errorf("profile %s grants CAP_SYS_ADMIN", p)
			}
		}
		if len(p.Capabilities()) == 0 || p.Capabilities()[0] != CapCheckpointRestore {
			t.Errorf("profile %s must grant %s first", p, CapCheckpointRestore)
		}
	}
}

// TestRuntimeOptIn: choosing crhook's runtime opts a container in where
// its annotations say nothing; where they speak, they rule.
func TestRuntimeOptIn(t *testing.T) {
	all := DefaultPolicy()
	all.AllowedProfiles = Profiles
	tests := []struct {
		name        string
		annotations map[string]string
		runtime     Profile
		policy      Policy
		wantOptIn   bool
		wantProfile Profile
		wantErr     error
	}{
		{name: "silent annotations: the runtime's profile", runtime: ProfileRestore, policy: all, wantOptIn: true, wantProfile: ProfileRestore},
		{name: "an explicit opt-out rules", annotations: map[string]string{AnnotationRestore: "false"}, runtime: ProfileMinimal, policy: all},
		{name: "a profile annotation picks the profile", annotations: map[string]string{AnnotationProfile: "checkpoint"}, runtime: ProfileMinimal, policy: all, wantOptIn: true, wantProfile: ProfileCheckpoint},
		{name: "the admin's limit still applies", runtime: ProfileCheckpoint, policy: DefaultPolicy(), wantErr: ErrNotAllowed},
		{name: "a pod's sandbox gets nothing", annotations: map[string]string{AnnotationContainerdType: "sandbox"}, runtime: ProfileMinimal, policy: all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := runcSpec(t)
			s.Annotations = tt.annotations
			res, err := Adjust(encode(t, s), Options{Sources: testSources, Policy: tt.policy, RuntimeOptIn: tt.runtime})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Request.OptedIn != tt.wantOptIn || res.Request.Profile != tt.wantProfile {
				t.Fatalf("request %+v, want opted in %v with %q", res.Request, tt.wantOptIn, tt.wantProfile)
			}
			if !tt.wantOptIn {
				if res.Changed {
					t.Fatalf("changed a container that is not opted in: %v", res.Changes)
				}
				return
			}
			out, err := Parse(res.Output)
			if err != nil {
				t.Fatal(err)
			}
			if out.Annotations[AnnotationRestore] != "true" || out.Annotations[AnnotationProfile] != string(tt.wantProfile) {
				t.Errorf("annotations %v: the checks must see the opt-in", out.Annotations)
			}
		})
	}
}
