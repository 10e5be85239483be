package spec_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/spec"
)

// BenchmarkAdjust times the spec adjustment on what precreate and patch
// see: a real podman spec (opted in), runc's default spec opted in by
// patch, one under Docker's seccomp profile (clone3 gets opened), one
// that did not opt in (passed through), and podman's spec grown to 1 and
// 4 MiB with bind mounts and env entries. ns/op over bytes (MB/s) should
// stay about the same across sizes: the cost is linear.
func BenchmarkAdjust(b *testing.B) {
	podman := readBenchSpec(b, "podman-user1000.json")
	runc := readBenchSpec(b, "runc-spec.json")
	patch := spec.Options{
		Policy:  spec.DefaultPolicy(),
		Sources: plainHost{},
		OptIn:   true,
		Hooks:   map[string]specs.Hook{"createRuntime": {Path: "/usr/local/bin/crhook", Args: []string{"crhook", "createRuntime"}}},
		Indent:  true,
	}
	precreate := spec.Options{Policy: spec.DefaultPolicy(), Sources: plainHost{}}
	cases := []struct {
		name string
		raw  []byte
		opts spec.Options
	}{
		{name: "podman-typical", raw: podman, opts: precreate},
		{name: "runc-patch", raw: runc, opts: patch},
		{name: "docker-seccomp", raw: withDockerProfile(b, runc), opts: patch},
		{name: "not-opted-in", raw: runc, opts: precreate},
		{name: "podman-1MiB", raw: growBenchSpec(b, podman, 1<<20), opts: precreate},
		{name: "podman-4MiB", raw: growBenchSpec(b, podman, 4<<20), opts: precreate},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := spec.Adjust(c.raw, c.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// plainHost resolves every bind source to itself, a file that is no
// procfs: the benchmarks time the adjustment, not the host's files.
type plainHost struct{}

func (plainHost) Source(p string, _ bool) (spec.BindSource, error) {
	return spec.BindSource{Path: p}, nil
}

// BenchmarkParse times the strict parse every stage starts with.
func BenchmarkParse(b *testing.B) {
	podman := readBenchSpec(b, "podman-user1000.json")
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{name: "podman-typical", raw: podman},
		{name: "podman-1MiB", raw: growBenchSpec(b, podman, 1<<20)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := spec.Parse(c.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func readBenchSpec(b *testing.B, name string) []byte {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// withDockerProfile gives raw Docker's default seccomp profile, which
// blocks clone3, and opts it in.
func withDockerProfile(b *testing.B, raw []byte) []byte {
	b.Helper()
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		b.Fatal(err)
	}
	profile, err := os.ReadFile(filepath.Join("testdata", "docker-seccomp.json"))
	if err != nil {
		b.Fatal(err)
	}
	s.Linux.Seccomp = &specs.LinuxSeccomp{}
	if err := json.Unmarshal(profile, s.Linux.Seccomp); err != nil {
		b.Fatal(err)
	}
	s.Annotations = map[string]string{spec.AnnotationRestore: "true"}
	out, err := json.Marshal(&s)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// growBenchSpec adds bind mounts and env entries to raw until it is at
// least size bytes, as a spec with thousands of volumes would be.
func growBenchSpec(b *testing.B, raw []byte, size int) []byte {
	b.Helper()
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		b.Fatal(err)
	}
	const perEntry = 200 // one mount plus one env entry, encoded
	for i := 0; ; i++ {
		out, err := json.Marshal(&s)
		if err != nil {
			b.Fatal(err)
		}
		if len(out) >= size {
			return out
		}
		for range max(1, (size-len(out))/perEntry) {
			i++
			s.Mounts = append(s.Mounts, specs.Mount{
				Destination: fmt.Sprintf("/data/volumes/vol-%06d", i),
				Type:        "bind",
				Source:      fmt.Sprintf("/srv/volumes/vol-%06d", i),
				Options:     []string{"rbind", "ro", "nosuid", "nodev"},
			})
			s.Process.Env = append(s.Process.Env, fmt.Sprintf("BENCH_VAR_%06d=/opt/app/lib/%06d:/usr/local/lib", i, i))
		}
	}
}
