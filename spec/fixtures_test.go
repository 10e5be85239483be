package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// loadSpec reads a real config.json from testdata: runc-spec.json is what
// `runc spec` 1.1.5 writes; podman-user1000.json is the bundle podman 4.3.1
// made for `podman run --user 1000 --annotation io.crhook.restore=true`.
func loadSpec(t testing.TB, name string) *specs.Spec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// runcSpec is runc's default spec as a hardened non-root container: uid
// 1000, no new privileges, no terminal.
func runcSpec(t testing.TB) *specs.Spec {
	s := loadSpec(t, "runc-spec.json")
	s.Process.User.UID = 1000
	s.Process.Terminal = false
	s.Process.NoNewPrivileges = true
	return s
}

// withDockerSeccomp installs Docker's default seccomp profile, as dockerd
// resolves it for runc's default capabilities on amd64: testdata/
// docker-seccomp.json, which test/compat holds to moby/profiles.
func withDockerSeccomp(t testing.TB, s *specs.Spec) *specs.Spec {
	t.Helper()
	s.Linux.Seccomp = dockerSeccomp(t)
	return s
}

func dockerSeccomp(t testing.TB) *specs.LinuxSeccomp {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "docker-seccomp.json"))
	if err != nil {
		t.Fatal(err)
	}
	var profile specs.LinuxSeccomp
	if err := json.Unmarshal(raw, &profile); err != nil {
		t.Fatal(err)
	}
	return &profile
}

func optIn(s *specs.Spec, profile string) *specs.Spec {
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[AnnotationRestore] = "true"
	if profile != "" {
		s.Annotations[AnnotationProfile] = profile
	}
	return s
}

func encode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withExtension adds members no runtime-spec version defines, at the top
// and inside objects Adjust edits, as a newer spec or a runtime would.
func withExtension(t testing.TB, raw []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["org.example.future"] = map[string]any{"nested": []any{1.5, "x<&>"}}
	process, _ := m["process"].(map[string]any)
	if process == nil {
		return encode(t, m)
	}
	process["org.example.process"] = true
	caps, _ := process["capabilities"].(map[string]any)
	if caps == nil {
		caps = map[string]any{}
		process["capabilities"] = caps
	}
	caps["org.example.caps"] = "kept"
	linux := m["linux"].(map[string]any)
	linux["org.example.linux"] = 42.0
	if sc, ok := linux["seccomp"].(map[string]any); ok {
		sc["org.example.seccomp"] = "kept"
		if rules, ok := sc["syscalls"].([]any); ok {
			for _, r := range rules {
				r.(map[string]any)["org.example.rule"] = "kept"
			}
		}
	}
	return encode(t, m)
}

// decodeFull decodes every member the way runc does, for assertions on
// members Parse leaves out (hooks, hostname, ...).
func decodeFull(t testing.TB, raw []byte) *specs.Spec {
	t.Helper()
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// marshal encodes v as the tests' fixtures do, without escaping <, >
// and &.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// fakeSources is a host for the pure tests: a procfs at /proc, paths
// resolved one element at a time as the kernel walks them, following the
// links given (each an absolute target), and nothing missing unless
// listed.
type fakeSources struct {
	// links maps a path to what it resolves to.
	links   map[string]string
	missing []string
}

// testSources is the host most tests run on: no links.
var testSources = fakeSources{}

func (f fakeSources) Source(p string, recursive bool) (BindSource, error) {
	if !strings.HasPrefix(p, "/") {
		return BindSource{}, fmt.Errorf("a relative path, and no bundle to start from")
	}
	p = f.walk(p)
	if slices.Contains(f.missing, p) {
		return BindSource{}, fmt.Errorf("open %s: no such file or directory", p)
	}
	b := BindSource{Path: p, Procfs: covers("/proc", p)}
	if recursive && !b.Procfs && covers(p, "/proc") {
		b.ProcfsBelow = "/proc"
	}
	return b, nil
}

// walk resolves p one element at a time: ".." goes up from where the
// walk is, after any link before it was followed.
func (f fakeSources) walk(p string) string {
	at := "/"
	for _, elem := range strings.Split(p, "/") {
		switch elem {
		case "", ".":
			continue
		case "..":
			at = path.Dir(at)
			continue
		}
		at = path.Join(at, elem)
		for hops := 0; hops < 40; hops++ {
			to, ok := f.links[at]
			if !ok {
				break
			}
			at = to
		}
	}
	return at
}
