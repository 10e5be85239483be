package install

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/crhook/crhook/spec"
)

// DefaultDockerConfig is dockerd's config file.
const DefaultDockerConfig = "/etc/docker/daemon.json"

// Docker returns the plan for Docker: a "crhook" entry under "runtimes"
// in daemon.json, merged into the existing file. Other keys are kept. The
// entry names crhook-runtime-PROFILE, so choosing the runtime opts a
// container in: Debian 12's Docker (20.10, API 1.41) passes no
// annotations, which arrived with API 1.43 (Docker 24).
func Docker(o Options, uninstall bool) (Plan, error) {
	path := orDefault(o.EngineConfig, DefaultDockerConfig)
	p := o.plan("docker", uninstall, Docker)
	current, err := o.engineFile(path, uninstall)
	if err != nil {
		return p, err
	}
	next, err := mergeDaemonJSON(current, o.runtimeEntry(), uninstall)
	if err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	why := "add the " + RuntimeName + " runtime"
	if uninstall {
		why = "remove the " + RuntimeName + " runtime"
	}
	p.Changes = []Change{{Path: o.onHost(path), Content: next, Mode: 0o644, Why: why}}
	p.Next = []string{"restart dockerd (systemctl restart docker), then: docker run --runtime " + RuntimeName + " ... (every container of that runtime is opted in" +
		profileNote(o.RuntimeProfile) + "; with Docker 24+ --annotation io.crhook.profile=P picks another, io.crhook.restore=false opts out)"}
	if uninstall {
		p.Next = []string{"restart dockerd"}
	}
	return p, nil
}

func profileNote(p spec.Profile) string {
	if p == "" {
		return ""
	}
	return " with profile " + string(p)
}

// mergeDaemonJSON adds or removes runtimes.crhook in daemon.json as a
// byte edit: install inserts the entry (and a "runtimes" object when
// there is none) right after the opening brace, uninstall cuts out
// exactly what install inserted, so every other byte of the file, layout
// and comments aside, stays as the admin wrote it, and installing then
// uninstalling gives back the file it started from. A file left holding
// nothing but {} is removed (nil).
func mergeDaemonJSON(current []byte, runtimePath string, uninstall bool) ([]byte, error) {
	if trimmed := bytes.Trim(current, jsonSpace); len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		if uninstall {
			return current, nil
		}
		current = []byte("{}\n")
	}
	root, err := scanObject(current, 0)
	if err != nil {
		return nil, fmt.Errorf("parse daemon.json: %w", err)
	}
	entry, err := json.Marshal(map[string]string{"path": runtimePath})
	if err != nil {
		return nil, err
	}
	runtimes, hasRuntimes, err := root.member("runtimes")
	if err != nil {
		return nil, err
	}
	if uninstall {
		return removeCrhook(current, root, runtimes, hasRuntimes)
	}
	if !hasRuntimes || bytes.Equal(current[runtimes.value:runtimes.end], []byte("null")) {
		member := `"runtimes":{"` + RuntimeName + `":` + string(entry) + `}`
		if hasRuntimes {
			return splice(current, runtimes.value, runtimes.end, member[len(`"runtimes":`):]), nil
		}
		return root.insert(current, member), nil
	}
	obj, err := scanObject(current, runtimes.value)
	if err != nil {
		return nil, fmt.Errorf("parse daemon.json runtimes: %w", err)
	}
	if crhook, ok, err := obj.member(RuntimeName); err != nil {
		return nil, err
	} else if ok {
		return splice(current, crhook.value, crhook.end, string(entry)), nil
	}
	return obj.insert(current, `"`+RuntimeName+`":`+string(entry)), nil
}

// removeCrhook cuts runtimes.crhook out, and runtimes with it when
// nothing else is left in it.
func removeCrhook(current []byte, root jsonObject, runtimes jsonMember, hasRuntimes bool) ([]byte, error) {
	if !hasRuntimes || current[runtimes.value] != '{' {
		return current, nil
	}
	obj, err := scanObject(current, runtimes.value)
	if err != nil {
		return nil, fmt.Errorf("parse daemon.json runtimes: %w", err)
	}
	crhook, ok, err := obj.member(RuntimeName)
	if err != nil || !ok {
		return current, err
	}
	if len(obj.members) == 1 && createdByInstall(current, root, runtimes) {
		current = root.remove(current, runtimes)
	} else {
		current = obj.remove(current, crhook)
	}
	if rest, err := scanObject(current, 0); err == nil && len(rest.members) == 0 {
		return nil, nil
	}
	return current, nil
}

// createdByInstall reports whether runtimes is the member install writes
// when there is none: first in the file, compact, holding only crhook.
// A "runtimes" the admin wrote keeps its (now empty) object.
func createdByInstall(data []byte, root jsonObject, runtimes jsonMember) bool {
	return runtimes.key == root.open+1 &&
		bytes.HasPrefix(data[runtimes.key:], []byte(`"runtimes":{"`+RuntimeName+`":`))
}

// jsonSpace is JSON's white space; bytes.TrimSpace would also take form
// feeds and Unicode spaces, which dockerd's decoder refuses.
const jsonSpace = " \t\r\n"

func splice(data []byte, from, to int, with string) []byte {
	return slices.Concat(data[:from], []byte(with), data[to:])
}

// jsonObject is one object of a JSON text, by byte offsets.
type jsonObject struct {
	open, close int // offsets of { and }
	members     []jsonMember
}

// jsonMember is one member: where its name starts, where its value
// starts and ends.
type jsonMember struct {
	name            string
	key, value, end int
}

// scanObject reads the object whose { is the first non-space byte at or
// after off, without decoding its values.
func scanObject(data []byte, off int) (jsonObject, error) {
	dec := json.NewDecoder(bytes.NewReader(data[off:]))
	tok, err := dec.Token()
	if err != nil {
		return jsonObject{}, err
	}
	if tok != json.Delim('{') {
		return jsonObject{}, fmt.Errorf("not a JSON object")
	}
	obj := jsonObject{open: off + int(dec.InputOffset()) - 1}
	seen := map[string]bool{}
	for dec.More() {
		before := off + int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return jsonObject{}, err
		}
		name, _ := tok.(string)
		if seen[name] {
			return jsonObject{}, fmt.Errorf("member %q is given twice", name)
		}
		seen[name] = true
		m := jsonMember{name: name, key: before + bytes.IndexByte(data[before:], '"')}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return jsonObject{}, err
		}
		m.end = off + int(dec.InputOffset())
		m.value = m.end - len(raw)
		obj.members = append(obj.members, m)
	}
	if _, err := dec.Token(); err != nil {
		return jsonObject{}, err
	}
	obj.close = off + int(dec.InputOffset()) - 1
	if off == 0 && len(bytes.Trim(data[obj.close+1:], jsonSpace)) > 0 {
		return jsonObject{}, fmt.Errorf("data after the object")
	}
	return obj, nil
}

func (o jsonObject) member(name string) (jsonMember, bool, error) {
	for _, m := range o.members {
		if m.name == name {
			return m, true, nil
		}
	}
	return jsonMember{}, false, nil
}

// insert puts member first in the object, right after its {.
func (o jsonObject) insert(data []byte, member string) []byte {
	if len(o.members) > 0 {
		member += ","
	}
	return splice(data, o.open+1, o.open+1, member)
}

// remove cuts m out with the comma that joins it to the next member, or
// to the one before when it is the last, so that removing what insert
// put in gives back the bytes from before.
func (o jsonObject) remove(data []byte, m jsonMember) []byte {
	i := slices.IndexFunc(o.members, func(x jsonMember) bool { return x.key == m.key })
	if i+1 < len(o.members) {
		comma := m.end + bytes.IndexByte(data[m.end:], ',')
		return splice(data, m.key, comma+1, "")
	}
	if i > 0 {
		return splice(data, o.members[i-1].end, m.end, "")
	}
	return splice(data, m.key, m.end, "")
}

// DockerRuntime returns the path daemon.json gives the crhook runtime,
// and whether there is such an entry.
func DockerRuntime(o Options) (string, bool, error) {
	path := orDefault(o.EngineConfig, DefaultDockerConfig)
	data, err := o.engineFile(path, true)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return "", false, err
	}
	var cfg struct {
		Runtimes map[string]struct {
			Path string `json:"path"`
		} `json:"runtimes"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", false, fmt.Errorf("parse %s: %w", path, err)
	}
	rt, ok := cfg.Runtimes[RuntimeName]
	return rt.Path, ok, nil
}
