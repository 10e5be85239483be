package spec

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/errkind"
)

// FuzzParseState feeds the state reader, which every runtime hook runs on
// its stdin, arbitrary bytes: it must never panic, and every error must be
// bad input (exit 2), never a failed check.
func FuzzParseState(f *testing.F) {
	for _, s := range fuzzStateSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		st, err := ParseState(raw)
		if err != nil {
			if !errors.Is(err, errkind.ErrBadInput) {
				t.Fatalf("error is not bad input: %v", err)
			}
			if st != nil {
				t.Fatal("state returned with an error")
			}
			return
		}
		if st == nil {
			t.Fatal("no state and no error")
		}
		// What crhook decoded must be what a runtime would decode: the
		// state re-encoded parses to the same fields.
		again, err := ParseState(encode(t, st))
		if err != nil {
			t.Fatalf("re-encoded state does not parse: %v", err)
		}
		if again.ID != st.ID || again.Pid != st.Pid || again.Bundle != st.Bundle || again.Status != st.Status ||
			OptedIn(again.Annotations) != OptedIn(st.Annotations) {
			t.Fatalf("state changed on a round trip: %+v, then %+v", st, again)
		}
	})
}

// fuzzStateSeeds are states as runc and podman pass them to hooks, built
// from the real bundles in testdata, plus the malformed shapes the
// hook must refuse.
func fuzzStateSeeds(f *testing.F) [][]byte {
	f.Helper()
	podman := loadSpec(f, "podman-user1000.json")
	state := func(status specs.ContainerState, pid int, annotations map[string]string) []byte {
		return encode(f, specs.State{
			Version:     specs.Version,
			ID:          "eb500f94c6120138d5209257f70e40874322ddd63b5d49ed04ec7061e0655bc3",
			Status:      status,
			Pid:         pid,
			Bundle:      "/run/containers/storage/overlay-containers/eb500f94c612/userdata",
			Annotations: annotations,
		})
	}
	seeds := [][]byte{
		state(specs.StateCreating, 4242, podman.Annotations),
		state(specs.StateCreated, 4242, map[string]string{AnnotationRestore: "true", AnnotationProfile: "restore"}),
		state(specs.StateRunning, 1, nil),
		state(specs.StateCreating, 0, map[string]string{AnnotationRestore: "true; CAP_SYS_ADMIN"}),
		readFixture(f, "runc-spec.json"),
		readFixture(f, "podman-user1000.json"),
		[]byte(``),
		[]byte(`null`),
		[]byte(`[]`),
		[]byte(`{"id":"x","pid":-1,"bundle":"relative"}`),
		[]byte(`{"id":"x","pid":"12"}`),
		[]byte(`{"id":"x","pid":1e30}`),
		[]byte(`{"id":"x","annotations":{"io.crhook.restore":"false","io.crhook.restore":"true"}}`),
		[]byte(`{"id":"x","ID":"y"}`),
		[]byte(`{"id":"x"} trailing`),
		[]byte(`{"id":"x","annotations":{"a":` + strings.Repeat(`[`, 2000) + strings.Repeat(`]`, 2000) + `}}`),
		[]byte("{\"id\":\"\xff\xfe\",\"pid\":7}"),
	}
	var check map[string]any
	for _, s := range seeds[:4] {
		if err := json.Unmarshal(s, &check); err != nil {
			f.Fatal(err)
		}
	}
	return seeds
}
