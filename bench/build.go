package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binaries are the programs a run drives.
type Binaries struct {
	// Crhook is crhook built the way `make build` builds it: static.
	Crhook string
	// Hook is crhook-hook, the lean build engines run, beside Crhook.
	Hook string
	// NoopHook is a static hook that only reads stdin: figure 1's floor.
	NoopHook string
	// CopySpec reads a spec on stdin and writes it back: figure 2's floor.
	CopySpec string
	// Proctime runs a program and reports its wall time and peak RSS.
	Proctime string
	// Self is the running benchmark program, re-executed as the parent of
	// placed trees and as the init of a fresh PID namespace.
	Self string
}

// benchModule is this module's path: the benchmarks are a module of
// their own inside the crhook checkout, so the libraries they drive
// engines with (CRI's gRPC API) stay out of what crhook links.
const benchModule = "github.com/crhook/crhook/bench"

// CheckoutDir finds the crhook checkout from the working directory, with
// `go env GOMOD`: the module there, or the one around this one.
func CheckoutDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("no go.mod above the working directory; run from the crhook checkout or pass -src")
	}
	data, err := os.ReadFile(mod)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", mod, err)
	}
	dir := filepath.Dir(mod)
	if first, _, _ := strings.Cut(string(data), "\n"); strings.TrimSpace(strings.TrimPrefix(first, "module")) == benchModule {
		dir = filepath.Dir(dir)
	}
	return dir, nil
}

// Build compiles crhook and crhook-hook from the checkout at src, and the
// floors and proctime from the bench module at benchDir (this program's:
// src may be an older checkout, measured with today's tools), all with
// CGO_ENABLED=0 as `make build` builds crhook, into dir.
func Build(src, benchDir, dir string) (Binaries, error) {
	b := Binaries{
		Crhook:   filepath.Join(dir, "crhook"),
		Hook:     filepath.Join(dir, "crhook-hook"),
		NoopHook: filepath.Join(dir, "noop-hook"),
		CopySpec: filepath.Join(dir, "copyspec"),
		Proctime: filepath.Join(dir, "proctime"),
	}
	for out, pkg := range map[string][2]string{
		b.Crhook: {src, "./cmd/crhook"}, b.Hook: {src, "./cmd/crhook-hook"}, b.NoopHook: {benchDir, "./noophook"},
		b.CopySpec: {benchDir, "./copyspec"}, b.Proctime: {benchDir, "./proctime"},
	} {
		if err := goBuild(pkg[0], out, pkg[1]); err != nil {
			return Binaries{}, err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return Binaries{}, fmt.Errorf("find own path: %w", err)
	}
	b.Self = self
	return b, nil
}

func goBuild(src, out, pkg string, flags ...string) error {
	cmd := exec.Command("go", append(append([]string{"build", "-trimpath", "-o", out}, flags...), pkg)...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
