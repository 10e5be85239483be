package bench

import (
	"encoding/json"
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// grownSpec is a spec made large the way real ones get large: many bind
// mounts and many environment variables.
type grownSpec struct {
	raw           []byte
	mounts, env   int
	requestedSize int
}

// growSpec adds mounts and env entries to base, the same number of each,
// until it is at least size bytes. Mount i binds sourceDir/vol-NNNNNN
// (i in six digits, from 1), which the caller makes: crhook resolves
// every bind source on the host and grants nothing past one it cannot. base must have process.env and mounts
// (or lack them: they are created). Everything else stays, so an
// opted-in base gives an opted-in spec.
func growSpec(base []byte, size int, sourceDir string) (grownSpec, error) {
	var s map[string]any
	if err := json.Unmarshal(base, &s); err != nil {
		return grownSpec{}, fmt.Errorf("parse base spec: %w", err)
	}
	process, ok := s["process"].(map[string]any)
	if !ok {
		return grownSpec{}, errors.New("base spec has no process object")
	}
	mounts, _ := s["mounts"].([]any)
	env, _ := process["env"].([]any)
	const perEntry = 220 // about one mount plus one env entry, encoded
	n := 0
	for {
		raw, err := json.Marshal(s)
		if err != nil {
			return grownSpec{}, fmt.Errorf("encode spec: %w", err)
		}
		if len(raw) >= size {
			return grownSpec{raw: raw, mounts: n, env: n, requestedSize: size}, nil
		}
		for range max(1, (size-len(raw))/perEntry) {
			n++
			mounts = append(mounts, benchMount(n, sourceDir))
			env = append(env, benchEnv(n))
		}
		s["mounts"] = mounts
		process["env"] = env
	}
}

func benchMount(i int, sourceDir string) map[string]any {
	return map[string]any{
		"destination": fmt.Sprintf("/data/volumes/vol-%06d", i),
		"type":        "bind",
		"source":      benchSource(sourceDir, i),
		"options":     []string{"rbind", "ro", "nosuid", "nodev"},
	}
}

func benchSource(sourceDir string, i int) string {
	return fmt.Sprintf("%s/vol-%06d", sourceDir, i)
}

func benchEnv(i int) string {
	return fmt.Sprintf("CRHOOK_BENCH_VAR_%06d=/opt/app/lib/%06d:/opt/app/share/%06d:/usr/local/lib", i, i, i)
}

// TypicalSpec is the opted-in spec figure 2 times: runc's default spec
// (the one in spec/testdata, whose /proc/sys is read-only) with Docker's
// default seccomp profile (spec/testdata/docker-seccomp.json), as uid
// 1000 with no new privileges. It is what a hardened container asks for,
// and Adjust has real work on it: the capability sets, and clone3 out of
// Docker's ENOSYS rule.
func TypicalSpec(runcSpec, dockerSeccomp []byte) ([]byte, error) {
	var s specs.Spec
	if err := json.Unmarshal(runcSpec, &s); err != nil {
		return nil, fmt.Errorf("parse runc spec: %w", err)
	}
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	s.Process.NoNewPrivileges = true
	s.Process.Terminal = false
	var profile specs.LinuxSeccomp
	if err := json.Unmarshal(dockerSeccomp, &profile); err != nil {
		return nil, fmt.Errorf("parse docker's seccomp profile: %w", err)
	}
	s.Linux.Seccomp = &profile
	s.Annotations = map[string]string{"io.crhook.restore": "true"}
	return json.MarshalIndent(&s, "", "\t")
}
