package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/spec"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    func(*Config)
		wantErr bool
	}{
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
		{name: "unknown key", in: `allow_sys_admin = true`, wantErr: true},
		{name: "not toml", in: `{"default_profile": "minimal"}`, wantErr: true},
		{name: "unknown profile", in: `allowed_profiles = ["minimal", "CAP_SYS_ADMIN"]`, wantErr: true},
		{name: "default outside allowed", in: `allowed_profiles = ["minimal"]` + "\n" + `default_profile = "restore"`, wantErr: true},
		{name: "wrong type", in: `open_clone3 = "yes"`, wantErr: true},
		{name: "unknown checkpoint_seccomp", in: `checkpoint_seccomp = "ignore"`, wantErr: true},
		{name: "bad timeout", in: `timeout = "forever"`, wantErr: true},
		{name: "zero timeout", in: `timeout = "0s"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			want := Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
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
