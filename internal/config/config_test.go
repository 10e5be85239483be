package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/spec"
)

func TestParse(t *testing.T) {
	for _, tt := range slices.Concat(parseValidCases(), parseErrorCases()) {
		t.Run(tt.name, func(t *testing.T) { checkParseCase(t, tt) })
	}
}

// parseCase is a config file and the Config or error it must give.
type parseCase struct {
	name string
	in   string
	want func(*Config)
	// wantErr is what the error must say; "" for none.
	wantErr string
}

// parseValidCases are files Parse accepts; want edits the defaults into
// the Config they give.
func parseValidCases() []parseCase {
	return []parseCase{
		{name: "empty gives defaults", in: "", want: func(*Config) {}},
		{
			name: "everything",
			in: `default_profile = "restore"
allowed_profiles = ["minimal", "restore", "checkpoint"]
proc_sys = "add-readonly"
open_clone3 = false
checkpoint_seccomp = "remove"
allow_shared_pid_namespace = true
log_file = "/var/log/crhook.log"
timeout = "2s"
runtime = "/usr/bin/crun"
`,
			want: func(c *Config) {
				c.Policy = spec.Policy{DefaultProfile: spec.ProfileRestore, AllowedProfiles: spec.Profiles, ProcSys: spec.ProcSysAddReadonly,
					CheckpointSeccomp: spec.CheckpointSeccompRemove, AllowSharedPID: true}
				c.LogFile = "/var/log/crhook.log"
				c.Timeout = 2 * time.Second
				c.Runtime = "/usr/bin/crun"
			},
		},
	}
}

// parseErrorCases are files Parse refuses.
func parseErrorCases() []parseCase {
	return []parseCase{
		{name: "unknown key", in: `allow_sys_admin = true`, wantErr: "unknown key allow_sys_admin"},
		{name: "not toml", in: `{"default_profile": "minimal"}`, wantErr: "line 1: "},
		{name: "unknown profile", in: `allowed_profiles = ["minimal", "CAP_SYS_ADMIN"]`, wantErr: "CAP_SYS_ADMIN"},
		{name: "default outside allowed", in: `allowed_profiles = ["minimal"]` + "\n" + `default_profile = "restore"`, wantErr: "restore"},
		{name: "wrong type", in: `open_clone3 = "yes"`, wantErr: "line 1: open_clone3 must be a boolean (true or false), not a TOML string"},
		{name: "wrong type in a list", in: "\nallowed_profiles = [1]", wantErr: "line 2: allowed_profiles must be a list of strings, not of TOML integers"},
		{name: "a string for a list", in: `allowed_profiles = "minimal"`, wantErr: `allowed_profiles must be a list of strings, such as ["a", "b"], not a TOML string`},
		{name: "a timeout below a millisecond", in: `timeout = "1ns"`, wantErr: `timeout "1ns" must be a duration between 1ms and 10m`},
		{name: "number for a duration", in: `timeout = 5`, wantErr: `timeout must be a string, not a TOML integer`},
		{name: "a key without a value", in: `proc_sys = `, wantErr: "line 1: expected value"},
		{name: "an unknown table", in: "[runc]\npath = \"x\"", wantErr: "unknown key runc"},
		{name: "unknown checkpoint_seccomp", in: `checkpoint_seccomp = "ignore"`, wantErr: "ignore"},
		{name: "bad timeout", in: `timeout = "forever"`, wantErr: `timeout "forever" must be a duration`},
		{name: "zero timeout", in: `timeout = "0s"`, wantErr: `timeout "0s" must be a duration`},
	}
}

// checkParseCase parses tt.in and checks it gives tt's Config, or an
// error of one line that says tt.wantErr.
func checkParseCase(t *testing.T, tt parseCase) {
	t.Helper()
	got, err := Parse([]byte(tt.in))
	if tt.wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("err = %v, want one line with %q", err, tt.wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	tt.want(&want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte(`default_profile = "restore"`), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte(`default_profile = `), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.toml")
	tests := []struct {
		name     string
		path     string
		explicit bool
		wantErr  bool
		profile  spec.Profile
	}{
		{name: "missing default file gives defaults", path: missing, profile: spec.ProfileMinimal},
		{name: "missing named file is an error", path: missing, explicit: true, wantErr: true},
		{name: "good file", path: good, explicit: true, profile: spec.ProfileRestore},
		{name: "broken file", path: bad, wantErr: true},
		{name: "a directory", path: dir, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.path, tt.explicit)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, errkind.ErrBadInput) {
					t.Errorf("config errors are bad input, got %v", err)
				}
				return
			}
			if c.Policy.DefaultProfile != tt.profile {
				t.Errorf("default profile %q, want %q", c.Policy.DefaultProfile, tt.profile)
			}
		})
	}
}
