package shim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// EnvRuntime names the real runtime when --runtime is not given.
const EnvRuntime = "CRHOOK_RUNTIME"

// ResolveRuntime picks the real runtime: flag, then $CRHOOK_RUNTIME, then
// the admin config, then runc on PATH. It refuses a choice that is crhook
// itself, which would exec forever.
func ResolveRuntime(flag, configured, self string) (string, error) {
	name := flag
	for _, candidate := range []string{os.Getenv(EnvRuntime), configured, "runc"} {
		if name != "" {
			break
		}
		name = candidate
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("find runtime %q: %w; set --runtime, $%s or runtime in the crhook config", name, err, EnvRuntime)
	}
	if path, err = filepath.Abs(path); err != nil {
		return "", fmt.Errorf("find runtime %q: %w", name, err)
	}
	if same(path, self) {
		return "", fmt.Errorf("runtime %s is crhook itself; point --runtime, $%s or runtime in the crhook config at runc or crun", path, EnvRuntime)
	}
	return path, nil
}

func same(a, b string) bool {
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(ia, ib)
}

// Exec replaces crhook with the runtime, passing args untouched, so the
// runtime's exit status is the caller's.
func Exec(runtime string, args []string) error {
	argv := append([]string{runtime}, args...)
	if err := unix.Exec(runtime, argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", runtime, err)
	}
	return errors.New("exec returned")
}

// WriteRuntimeLog appends msg to the runtime log file the engine gave
// (--log), in its format. containerd reports a failed runtime with the
// last error it finds there, not with stderr.
func WriteRuntimeLog(inv Invocation, msg string) error {
	if inv.Log == "" || inv.Log == "/dev/stderr" {
		return nil
	}
	f, err := os.OpenFile(inv.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open runtime log: %w", err)
	}
	defer f.Close()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var line []byte
	if inv.LogFormat == "json" {
		line, err = json.Marshal(map[string]string{"level": "error", "msg": msg, "time": now})
		if err != nil {
			return fmt.Errorf("encode runtime log: %w", err)
		}
	} else {
		line = fmt.Appendf(nil, "time=%q level=error msg=%q", now, msg)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write runtime log: %w", err)
	}
	return nil
}

// StateBundle asks the runtime where the container's bundle is (the OCI
// state command), with the same state root the engine gave it.
func StateBundle(runtime string, inv Invocation) (string, error) {
	args := []string{}
	if inv.Root != "" {
		args = append(args, "--root", inv.Root)
	}
	cmd := exec.Command(runtime, append(args, "state", inv.ID)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s state %s: %w: %s", runtime, inv.ID, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var st specs.State
	if err := json.Unmarshal(out, &st); err != nil || st.Bundle == "" {
		return "", fmt.Errorf("%s state %s: no bundle in %q", runtime, inv.ID, out)
	}
	return st.Bundle, nil
}
