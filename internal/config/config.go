package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/crhook/crhook/internal/boundedio"
	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/spec"
)

// DefaultPath is where crhook looks when neither --config nor
// CRHOOK_CONFIG names a file.
const DefaultPath = "/etc/crhook/config.toml"

// EnvPath names the environment variable that overrides DefaultPath.
const EnvPath = "CRHOOK_CONFIG"

// DefaultLogFile is where hook runs are recorded when the admin names no
// log_file: every grant and every admin override leaves a line there,
// also on hosts without syslog (minimal nodes, containers).
// log_file = "" turns it off.
const DefaultLogFile = "/var/log/crhook.log"

// DefaultTimeout bounds every hook run, so crhook never holds a container
// start for long.
const DefaultTimeout = 5 * time.Second

const maxFileSize = 1 << 20

// Config is the admin's settings, merged over the defaults.
type Config struct {
	Policy spec.Policy
	// LogFile, when set, receives one JSON line per hook run
	// (DefaultLogFile unless the admin says otherwise).
	LogFile string
	// Timeout bounds a hook run.
	Timeout time.Duration
	// Runtime is the OCI runtime crhook-runtime execs ("" means runc on PATH).
	Runtime string
	// Path is the file the settings came from, "" for the defaults.
	Path string
}

// Default returns the settings used when there is no config file.
func Default() Config {
	return Config{Policy: spec.DefaultPolicy(), Timeout: DefaultTimeout, LogFile: DefaultLogFile}
}

// file mirrors the TOML keys; pointers tell "absent" from "zero".
type file struct {
	DefaultProfile    *string  `toml:"default_profile"`
	AllowedProfiles   []string `toml:"allowed_profiles"`
	ProcSys           *string  `toml:"proc_sys"`
	OpenClone3        *bool    `toml:"open_clone3"`
	CheckpointSeccomp *string  `toml:"checkpoint_seccomp"`
	AllowSharedPID    *bool    `toml:"allow_shared_pid_namespace"`
	LogFile           *string  `toml:"log_file"`
	Timeout           *string  `toml:"timeout"`
	Runtime           *string  `toml:"runtime"`
}

// Resolve picks the config path for a command an admin runs (install,
// doctor, patch, the runtime shim): the flag, else $CRHOOK_CONFIG, else
// the default. explicit says whether the user named it, in which case it
// must exist.
func Resolve(flagPath string) (path string, explicit bool) {
	if flagPath != "" {
		return flagPath, true
	}
	if env := os.Getenv(EnvPath); env != "" {
		return env, true
	}
	return DefaultPath, false
}

// ResolveHook picks the config path for a hook stage: the flag, else the
// default, never the environment. A runtime runs a hook with exactly the
// env of its entry in config.json, which whoever wrote the spec chose;
// the arguments are part of what makes an entry crhook's own (see
// spec.Options.Hooks), so a spec cannot keep crhook's entry and point
// its checks at a config of its own.
func ResolveHook(flagPath string) (path string, explicit bool) {
	if flagPath != "" {
		return flagPath, true
	}
	return DefaultPath, false
}

// Load reads the config at path. A missing file gives the defaults unless
// explicit. Every error is bad input: the admin must fix the file.
func Load(path string, explicit bool) (Config, error) {
	data, err := boundedio.ReadFile(path, maxFileSize)
	// os.IsNotExist, not errors.Is: ReadFile's error is a plain
	// *os.PathError, and errors.Is costs a hook's cold start more.
	if os.IsNotExist(err) && !explicit {
		return Default(), nil
	}
	if err != nil {
		return Config{}, errkind.BadInput(fmt.Errorf("read config: %w", err))
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, errkind.BadInput(fmt.Errorf("config %s: %w", path, err))
	}
	c.Path = path
	return c, nil
}

// decodeError words a decoding error for the admin: the key and line.
func decodeError(err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		return unknownKeys(strict)
	}
	msg := strings.TrimPrefix(err.Error(), "toml: ")
	if typeMsg, ok := typeError(msg); ok {
		msg = typeMsg
	}
	var syntax *toml.DecodeError
	if errors.As(err, &syntax) {
		row, _ := syntax.Position()
		return fmt.Errorf("line %d: %s", row, msg)
	}
	return errors.New(msg)
}

// typeError rewords go-toml's "cannot decode TOML string into struct
// field config.file.OpenClone3 of type bool", which names the Go field,
// with the admin's key.
func typeError(msg string) (string, bool) {
	tomlKind, rest, ok1 := strings.Cut(strings.TrimPrefix(msg, "cannot decode TOML "), " into struct field config.file.")
	fieldName, goType, ok2 := strings.Cut(rest, " of type ")
	field, ok3 := reflect.TypeFor[file]().FieldByName(fieldName)
	if !ok1 || !ok2 || !ok3 || !strings.HasPrefix(msg, "cannot decode TOML ") {
		return "", false
	}
	key, want := field.Tag.Get("toml"), strings.TrimLeft(goType, "*[]")
	if want == "bool" {
		want = "boolean (true or false)"
	}
	switch {
	case strings.HasPrefix(strings.TrimLeft(goType, "*"), "[]"):
		return fmt.Sprintf("%s must be a list of %ss, such as [\"a\", \"b\"], not a TOML %s", key, want, tomlKind), true
	case field.Type.Kind() == reflect.Slice:
		return fmt.Sprintf("%s must be a list of %ss, not of TOML %ss", key, want, tomlKind), true
	}
	return fmt.Sprintf("%s must be a %s, not a TOML %s", key, want, tomlKind), true
}

// unknownKeys names the keys crhook does not know, for the admin to fix.
func unknownKeys(strict *toml.StrictMissingError) error {
	keys := make([]string, len(strict.Errors))
	for i, e := range strict.Errors {
		keys[i] = strings.Join(e.Key(), ".")
	}
	return fmt.Errorf("unknown key %s", strings.Join(keys, ", "))
}

// Parse reads TOML config text over the defaults.
func Parse(data []byte) (Config, error) {
	var f file
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Config{}, decodeError(err)
	}
	c := Default()
	if f.AllowedProfiles != nil {
		c.Policy.AllowedProfiles = make([]spec.Profile, len(f.AllowedProfiles))
		for i, p := range f.AllowedProfiles {
			c.Policy.AllowedProfiles[i] = spec.Profile(p)
		}
	}
	if f.DefaultProfile != nil {
		c.Policy.DefaultProfile = spec.Profile(*f.DefaultProfile)
	}
	if f.ProcSys != nil {
		c.Policy.ProcSys = spec.ProcSysMode(*f.ProcSys)
	}
	if f.OpenClone3 != nil {
		c.Policy.OpenClone3 = *f.OpenClone3
	}
	if f.AllowSharedPID != nil {
		c.Policy.AllowSharedPID = *f.AllowSharedPID
	}
	if f.CheckpointSeccomp != nil {
		c.Policy.CheckpointSeccomp = spec.CheckpointSeccompMode(*f.CheckpointSeccomp)
	}
	if err := c.Policy.Validate(); err != nil {
		return Config{}, err
	}
	if f.LogFile != nil {
		c.LogFile = *f.LogFile
	}
	if f.Runtime != nil {
		c.Runtime = *f.Runtime
	}
	if f.Timeout != nil {
		d, err := time.ParseDuration(*f.Timeout)
		if err != nil || d < time.Millisecond || d > 10*time.Minute {
			return Config{}, fmt.Errorf("timeout %q must be a duration between 1ms and 10m, such as \"5s\"", *f.Timeout)
		}
		c.Timeout = d
	}
	return c, nil
}
