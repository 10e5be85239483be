package install

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzMergeDaemonJSON: for any daemon.json, install and uninstall either
// refuse with an error or write a JSON object that keeps every other
// member as it was; install adds exactly the crhook runtime, and
// uninstalling that removes it again, giving back the very bytes of a
// file that held no crhook entry. Never a panic.
func FuzzMergeDaemonJSON(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"runtimes":null}`, `{"runtimes":{}}`, `{"runtimes":[]}`,
		`{"runtimes":{"crhook":null}}`, `{"runtimes":{"nvidia":{"path":"nvidia-container-runtime"}},"debug":true}`,
		`{"a":1,"a":2}`, `{"runtimes":{"crhook":{"path":"/x"},"crhook":{"path":"/y"}}}`,
		`{"a":1,"runtimes":{}}`, `{"runtimes": { },"b":[]}`, "{\n  \"runtimes\": {}\n}\n",
	} {
		f.Add([]byte(seed))
	}
	const runtime = "/usr/local/bin/crhook-runtime"
	f.Fuzz(func(t *testing.T, current []byte) {
		installed, err := mergeDaemonJSON(current, runtime, false)
		if err != nil {
			return
		}
		after := decodeObject(t, installed)
		runtimes := decodeObject(t, after["runtimes"])
		if entry := decodeObject(t, runtimes[RuntimeName]); string(entry["path"]) != `"`+runtime+`"` {
			t.Fatalf("install wrote runtimes.crhook = %s", runtimes[RuntimeName])
		}
		before := map[string]json.RawMessage{}
		json.Unmarshal(current, &before)
		for k, v := range before {
			if k == "runtimes" {
				continue
			}
			if !sameJSON(v, after[k]) {
				t.Fatalf("member %s changed: %s -> %s", k, v, after[k])
			}
		}
		removed, err := mergeDaemonJSON(installed, runtime, true)
		if err != nil {
			t.Fatalf("uninstall of install's own output: %v", err)
		}
		rt := decodeObject(t, decodeObject(t, removed)["runtimes"])
		if _, ok := rt[RuntimeName]; ok {
			t.Fatal("uninstall left the crhook runtime")
		}
		if hadNoEntry(current) && removed != nil && !bytes.Equal(removed, current) {
			t.Fatalf("install then uninstall changed the file:\nbefore %q\nafter  %q", current, removed)
		}
	})
}

func decodeObject(t *testing.T, raw []byte) map[string]json.RawMessage {
	t.Helper()
	m := map[string]json.RawMessage{}
	if len(raw) == 0 {
		return m
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, raw)
	}
	return m
}

func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(va, vb)
}

// hadNoEntry reports whether a daemon.json that install accepted held no
// runtimes.crhook (and no runtimes: null, which install replaces).
func hadNoEntry(current []byte) bool {
	var root map[string]json.RawMessage
	if json.Unmarshal(current, &root) != nil || root == nil {
		return false
	}
	raw, ok := root["runtimes"]
	if !ok {
		return true
	}
	var rt map[string]json.RawMessage
	if json.Unmarshal(raw, &rt) != nil || rt == nil {
		return false
	}
	// An empty runtimes object crhook fills reads, byte for byte, as one
	// install created (`{"runtimes":{},"x":1}` and `{"x":1}` install to
	// the same text), and uninstall takes it away; dockerd reads both
	// files the same. Every other file comes back as it was.
	if len(rt) == 0 {
		return false
	}
	_, has := rt[RuntimeName]
	return !has
}
