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
	tests := []struct {
		name     string
		spec     *specs.Spec
		policy   Policy
		wantErr  string
		wantNote string
	}{
		{name: "own PID namespace", spec: withPID([]specs.LinuxNamespace{{Type: specs.PIDNamespace}}), policy: DefaultPolicy()},
		{name: "host PID namespace (--pid=host, hostPID)", spec: withPID(nil), policy: DefaultPolicy(), wantErr: "shares the runtime's (the host's) PID namespace"},
		{name: "joined by path (shareProcessNamespace, --pid=container:X)", spec: withPID([]specs.LinuxNamespace{{Type: specs.PIDNamespace, Path: "/proc/4242/ns/pid"}}),
			policy: DefaultPolicy(), wantErr: `joins the PID namespace at "/proc/4242/ns/pid"`},
		{name: "no linux at all", spec: func() *specs.Spec { s := optIn(runcSpec(t), ""); s.Linux = nil; return s }(), policy: DefaultPolicy(), wantErr: "PID namespace"},
		{name: "host PID allowed by the admin", spec: withPID(nil), policy: allow, wantNote: "allow_shared_pid_namespace = true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Adjust(encode(t, tt.spec), Options{Policy: tt.policy})
			if tt.wantErr != "" {
				if !errors.Is(err, ErrSharedPID) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrSharedPID saying %q", err, tt.wantErr)
				}
				if verr := Verify(tt.spec, Request{OptedIn: true, Profile: ProfileMinimal}, Host{CapLastCap: 40}); !errors.Is(verr, ErrSharedPID) {
					t.Errorf("createRuntime's checks pass it: %v", verr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(res.Notes, " "); !strings.Contains(got, tt.wantNote) {
				t.Errorf("notes %q, want %q", got, tt.wantNote)
			}
		})
	}
}
