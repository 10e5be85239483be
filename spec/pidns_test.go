package spec

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSharedPIDNamespace: crhook grants only to a container with a new
// PID namespace of its own; the admin may allow others, and the log
// then says so.
func TestSharedPIDNamespace(t *testing.T) {
	withPID := func(ns []specs.LinuxNamespace) *specs.Spec {
		s := optIn(runcSpec(t), "")
		var kept []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.PIDNamespace {
				kept = append(kept, n)
			}
		}
		s.Linux.Namespaces = append(kept, ns...)
		return s
	}
	allow := DefaultPolicy()
	allow.AllowSharedPID = true
	allowAll := allow
	allowAll.AllowedProfiles = Profiles
	hostPID, joined := withPID(nil), withPID([]specs.LinuxNamespace{{Type: specs.PIDNamespace, Path: "/proc/4242/ns/pid"}})
	tests := []struct {
		name     string
		spec     *specs.Spec
		profile  Profile
		policy   Policy
		wantErr  string
		wantNote string
	}{
		{name: "own PID namespace", spec: withPID([]specs.LinuxNamespace{{Type: specs.PIDNamespace}}), policy: DefaultPolicy()},
		{name: "own PID namespace, checkpoint", spec: withPID([]specs.LinuxNamespace{{Type: specs.PIDNamespace}}), profile: ProfileCheckpoint, policy: allowAll},
		{name: "host PID namespace (--pid=host, hostPID)", spec: hostPID, policy: DefaultPolicy(), wantErr: "shares the runtime's (the host's) PID namespace"},
		{name: "joined by path (shareProcessNamespace, --pid=container:X)", spec: joined, policy: DefaultPolicy(), wantErr: `joins the PID namespace at "/proc/4242/ns/pid"`},
		{name: "no linux at all", spec: func() *specs.Spec { s := optIn(runcSpec(t), ""); s.Linux = nil; return s }(), policy: DefaultPolicy(), wantErr: "PID namespace"},
		{name: "host PID allowed by the admin", spec: hostPID, policy: allow, wantNote: "allow_shared_pid_namespace = true"},
		{name: "host PID allowed by the admin, restore", spec: hostPID, profile: ProfileRestore, policy: allow, wantNote: "allow_shared_pid_namespace = true"},
		{name: "joined by path allowed by the admin", spec: joined, policy: allow, wantNote: "allow_shared_pid_namespace = true"},
		{name: "host PID allowed by the admin, checkpoint", spec: hostPID, profile: ProfileCheckpoint, policy: allowAll,
			wantErr: "grants CAP_SYS_PTRACE, which crhook never grants in a PID namespace that is not the container's own new one"},
		{name: "joined by path allowed by the admin, checkpoint", spec: joined, profile: ProfileCheckpoint, policy: allowAll,
			wantErr: "whatever allow_shared_pid_namespace says"},
		{name: "host PID, checkpoint, not allowed", spec: hostPID, profile: ProfileCheckpoint, policy: func() Policy { p := DefaultPolicy(); p.AllowedProfiles = Profiles; return p }(),
			wantErr: "grants CAP_SYS_PTRACE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkSharedPIDCase(t, tt.spec, tt.profile, tt.policy, tt.wantErr, tt.wantNote) })
	}
}

// checkSharedPIDCase adjusts s opted in with profile under policy, and
// holds Adjust, createRuntime's checks and the log's notes to the same
// answer.
func checkSharedPIDCase(t *testing.T, s *specs.Spec, profile Profile, policy Policy, wantErr, wantNote string) {
	t.Helper()
	if profile == "" {
		profile = ProfileMinimal
	}
	res, err := Adjust(encode(t, s), Options{Sources: testSources, Policy: policy, OptIn: true, Profile: profile})
	req := Request{OptedIn: true, Profile: profile, SharedPIDAllowed: policy.AllowSharedPID}
	verr := Verify(s, req, Host{CapLastCap: 40, Sources: testSources})
	if wantErr != "" {
		if !errors.Is(err, ErrSharedPID) || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want ErrSharedPID saying %q", err, wantErr)
		}
		if !errors.Is(verr, ErrSharedPID) || !strings.Contains(verr.Error(), wantErr) {
			t.Errorf("createRuntime's checks say %v", verr)
		}
		if notes := Overrides(s, req); notes != nil {
			t.Errorf("a refused spec has notes %q", notes)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if errors.Is(verr, ErrSharedPID) {
		t.Errorf("createRuntime refuses what Adjust granted: %v", verr)
	}
	if got := strings.Join(res.Notes, " "); !strings.Contains(got, wantNote) || strings.Join(Overrides(s, req), " ") != got {
		t.Errorf("notes %q (createRuntime's %q), want %q", got, Overrides(s, req), wantNote)
	}
}
