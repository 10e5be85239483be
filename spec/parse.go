package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/errkind"
)

// Parse decodes a config.json strictly enough to act on it: it must be one
// JSON object with no repeated member, and the members crhook decides on
// must have the right types and the runtime spec's spelling. Unknown
// members are allowed; Adjust keeps them. The returned spec holds only
// those members (see decideOn); the rest is the runtime's to check.
func Parse(raw []byte) (*specs.Spec, error) {
	_, s, err := parseSpec(raw)
	return s, err
}

// parseSpec returns raw indexed for editing and as the typed view crhook
// decides on.
func parseSpec(raw []byte) (*doc, *specs.Spec, error) {
	d, err := checkObject(raw, nil)
	if err != nil {
		return nil, nil, err
	}
	s, err := decideOn(d)
	if err != nil {
		return nil, nil, errkind.BadInput(fmt.Errorf("parse spec: %w", err))
	}
	return d, s, nil
}

// decideOn reads the members crhook's decisions read: the process (user
// and capabilities), the root's path, mounts, annotations, and from linux the read-only
// and masked paths, seccomp and namespaces. It reads them from the index
// with the types runc's decoder would give them, and nothing else: a
// hook's cold start stays short, and the rest of a spec is not crhook's.
func decideOn(d *doc) (*specs.Spec, error) {
	r := reader{d: d}
	s := &specs.Spec{}
	s.Version = r.str(r.at(0, "ociVersion"), "ociVersion")
	if p := r.object(r.at(0, "process"), "process"); p >= 0 {
		s.Process = &specs.Process{}
		if u := r.object(r.at(p, "user"), "process.user"); u >= 0 {
			s.Process.User.UID = r.uint32(r.at(u, "uid"), "process.user.uid")
			s.Process.User.GID = r.uint32(r.at(u, "gid"), "process.user.gid")
		}
		if c := r.object(r.at(p, "capabilities"), "process.capabilities"); c >= 0 {
			s.Process.Capabilities = r.capabilities(c)
		}
	}
	if root := r.object(r.at(0, "root"), "root"); root >= 0 {
		s.Root = &specs.Root{Path: r.str(r.at(root, "path"), "root.path")}
	}
	s.Mounts = r.mounts(r.at(0, "mounts"))
	s.Annotations = r.strMap(r.exact(0, "annotations"), "annotations")
	if l, ok := r.present(0, "linux"); ok {
		s.Linux = &specs.Linux{}
		if r.object(l, "linux") >= 0 {
			s.Linux.ReadonlyPaths = r.strs(r.at(l, "readonlyPaths"), "linux.readonlyPaths")
			s.Linux.MaskedPaths = r.strs(r.at(l, "maskedPaths"), "linux.maskedPaths")
			s.Linux.Namespaces = r.namespaces(r.at(l, "namespaces"))
			if sc := r.object(r.at(l, "seccomp"), "linux.seccomp"); sc >= 0 {
				s.Linux.Seccomp = r.seccomp(sc)
			}
		}
	}
	return s, r.err
}

func (r *reader) mounts(i int) []specs.Mount {
	var out []specs.Mount
	if n := r.count(i, "mounts"); n > 0 {
		out = make([]specs.Mount, 0, n)
	}
	for m := r.array(i, "mounts"); m >= 0; m = r.d.next(m) {
		switch {
		case r.object(m, "mounts[]") < 0:
			out = append(out, specs.Mount{})
		case r.d.nodes[m].flat:
			out = append(out, r.flatMount(r.d.nodes[m]))
		default:
			out = append(out, specs.Mount{
				Destination: r.str(r.at(m, "destination"), "mounts[].destination"),
				Type:        r.str(r.at(m, "type"), "mounts[].type"),
				Source:      r.str(r.at(m, "source"), "mounts[].source"),
				Options:     r.strs(r.at(m, "options"), "mounts[].options"),
			})
		}
	}
	return out
}

// mountMembers are the members of a mount crhook reads.
var mountMembers = []string{"destination", "type", "source", "options"}

// flatMount reads a mount from its text, as the other mounts are read
// from the index: a large spec has thousands.
func (r *reader) flatMount(m node) specs.Mount {
	var out specs.Mount
	r.d.flatChildren(m, func(n node) {
		switch name := r.d.nameOf(&n); string(name) {
		case "destination":
			out.Destination = r.scalarStr(n, "mounts[].destination", "")
		case "type":
			out.Type = r.scalarStr(n, "mounts[].type", "")
		case "source":
			out.Source = r.scalarStr(n, "mounts[].source", "")
		case "options":
			out.Options = r.strList(n, "mounts[].options")
		default:
			for _, key := range mountMembers {
				if bytes.EqualFold(name, []byte(key)) {
					r.fail(fmt.Errorf("%w: %q, spell it %q", ErrMemberCase, name, key))
				}
			}
		}
	})
	return out
}

func (r *reader) capabilities(c int) *specs.LinuxCapabilities {
	return &specs.LinuxCapabilities{
		Bounding:    r.strs(r.at(c, "bounding"), "process.capabilities.bounding"),
		Effective:   r.strs(r.at(c, "effective"), "process.capabilities.effective"),
		Inheritable: r.strs(r.at(c, "inheritable"), "process.capabilities.inheritable"),
		Permitted:   r.strs(r.at(c, "permitted"), "process.capabilities.permitted"),
		Ambient:     r.strs(r.at(c, "ambient"), "process.capabilities.ambient"),
	}
}

func (r *reader) namespaces(i int) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	if n := r.count(i, "linux.namespaces"); n > 0 {
		out = make([]specs.LinuxNamespace, 0, n)
	}
	for n := r.array(i, "linux.namespaces"); n >= 0; n = r.d.next(n) {
		if r.object(n, "linux.namespaces[]") < 0 {
			out = append(out, specs.LinuxNamespace{})
			continue
		}
		out = append(out, specs.LinuxNamespace{
			Type: specs.LinuxNamespaceType(r.str(r.at(n, "type"), "linux.namespaces[].type")),
			Path: r.str(r.at(n, "path"), "linux.namespaces[].path"),
		})
	}
	return out
}

func (r *reader) seccomp(sc int) *specs.LinuxSeccomp {
	out := &specs.LinuxSeccomp{
		DefaultAction:   specs.LinuxSeccompAction(r.str(r.at(sc, "defaultAction"), "linux.seccomp.defaultAction")),
		DefaultErrnoRet: r.errno(r.at(sc, "defaultErrnoRet"), "linux.seccomp.defaultErrnoRet"),
	}
	syscalls := r.at(sc, "syscalls")
	if r.d.isArray(syscalls) {
		out.Syscalls = make([]specs.LinuxSyscall, 0, r.d.count(syscalls))
	}
	for rule := r.array(syscalls, "linux.seccomp.syscalls"); rule >= 0; rule = r.d.next(rule) {
		var sys specs.LinuxSyscall
		if r.object(rule, "linux.seccomp.syscalls[]") >= 0 {
			sys.Names = r.strs(r.at(rule, "names"), "linux.seccomp.syscalls[].names")
			sys.Action = specs.LinuxSeccompAction(r.str(r.at(rule, "action"), "linux.seccomp.syscalls[].action"))
			sys.ErrnoRet = r.errno(r.at(rule, "errnoRet"), "linux.seccomp.syscalls[].errnoRet")
			// Only whether a rule has arguments matters to crhook.
			if n := r.count(r.at(rule, "args"), "linux.seccomp.syscalls[].args"); n > 0 {
				sys.Args = r.seccompArgs(n)
			}
		}
		out.Syscalls = append(out.Syscalls, sys)
	}
	return out
}

// reader reads typed values from a doc, keeping the first error. Each
// read of a missing or null value gives the zero value, as Go's decoder
// does.
type reader struct {
	d   *doc
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// at is member key of object obj (-1 when absent); odd-case spellings
// are refused.
func (r *reader) at(obj int, key string) int {
	i, err := r.d.member(obj, key)
	if err != nil {
		r.fail(err)
		return -1
	}
	return i
}

// exact is member key of a map object, whose keys compare exactly.
func (r *reader) exact(obj int, key string) int {
	return r.d.memberExact(obj, key)
}

// present is at, and also whether the member is there at all.
func (r *reader) present(obj int, key string) (int, bool) {
	i := r.at(obj, key)
	return i, i >= 0
}

// typeError reports a value of the wrong JSON kind, in the words of Go's
// decoder, which is how runc would refuse the spec.
func (r *reader) typeError(i int, path, want string) {
	r.fail(fmt.Errorf("%s: cannot unmarshal %s into %s", path, kindName(r.d.nodes[i].kind), want))
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "bool"
	}
	return "null"
}

// object returns i when it is an object, -1 when absent or null.
func (r *reader) object(i int, path string) int {
	switch {
	case r.d.isNull(i):
		return -1
	case r.d.nodes[i].kind != '{':
		r.typeError(i, path, "an object")
		return -1
	}
	return i
}

// count is how many elements array i has (0 when absent or null).
func (r *reader) count(i int, path string) int {
	if r.array(i, path) < 0 {
		return 0
	}
	return r.d.count(i)
}

// array is the first element of array i: -1 when it has none, or is
// absent or null. Walk the rest with doc.next.
func (r *reader) array(i int, path string) int {
	if !r.d.isNull(i) && r.d.nodes[i].kind != '[' {
		r.typeError(i, path, "an array")
	}
	return r.d.firstElement(i)
}

func (r *reader) str(i int, path string) string { return r.strIn(i, path, "") }

// strIn reads a string at path+suffix, which it joins only to report an
// error: most strings are read from lists.
func (r *reader) strIn(i int, path, suffix string) string {
	if i < 0 {
		return ""
	}
	return r.scalarStr(r.d.nodes[i], path, suffix)
}

// scalarStr reads a string from n, at path+suffix.
func (r *reader) scalarStr(n node, path, suffix string) string {
	switch n.kind {
	case 'n':
		return ""
	case '"':
	default:
		r.fail(fmt.Errorf("%s%s: cannot unmarshal %s into a string", path, suffix, kindName(n.kind)))
		return ""
	}
	s, err := r.d.unquote(r.d.raw[n.start:n.end])
	if err != nil {
		r.fail(fmt.Errorf("%s%s: %w", path, suffix, err))
	}
	return s
}

func (r *reader) strs(i int, path string) []string {
	if i < 0 {
		return nil
	}
	if n := r.d.nodes[i]; n.flat || n.kind != '[' {
		return r.strList(n, path)
	}
	out := r.strings(r.d.count(i))
	for e := r.d.firstElement(i); e >= 0; e = r.d.next(e) {
		out = append(out, r.strIn(e, path, "[]"))
	}
	return out
}

// strList reads a list of strings from n, which is a flat array, an
// empty one, null, or a value of the wrong kind. It reads in place: a
// large spec's mount options need no index.
func (r *reader) strList(n node, path string) []string {
	switch n.kind {
	case 'n':
		return nil
	case '[':
	default:
		r.fail(fmt.Errorf("%s: cannot unmarshal %s into an array", path, kindName(n.kind)))
		return nil
	}
	count := 0
	r.d.flatChildren(n, func(node) { count++ })
	out := r.strings(count)
	r.d.flatChildren(n, func(e node) { out = append(out, r.scalarStr(e, path, "[]")) })
	return out
}

// seccompArgs returns n zero arguments, cut from one shared backing
// array as strings does: a seccomp profile has dozens of rules with them.
func (r *reader) seccompArgs(n int) []specs.LinuxSeccompArg {
	m := r.d.mem
	if cap(m.args)-len(m.args) < n {
		m.args = make([]specs.LinuxSeccompArg, 0, max(n, 64))
	}
	at := len(m.args)
	m.args = m.args[:at+n]
	return m.args[at : at+n : at+n]
}

// strings returns an empty slice with room for n strings, cut from one
// shared backing array: a seccomp profile has a list per rule.
func (r *reader) strings(n int) []string {
	m := r.d.mem
	if cap(m.strs)-len(m.strs) < n {
		// A spec holds fewer strings than a sixteenth of its bytes.
		m.strs = make([]string, 0, max(n, len(r.d.raw)/16))
	}
	out := m.strs[len(m.strs) : len(m.strs) : len(m.strs)+n]
	m.strs = m.strs[:len(m.strs)+n]
	return out
}

func (r *reader) strMap(i int, path string) map[string]string {
	if r.object(i, path) < 0 {
		return nil
	}
	out := make(map[string]string, r.d.count(i))
	for c := r.d.nodes[i].first; c >= 0; c = r.d.nodes[c].next {
		name := string(r.d.name(int(c)))
		out[name] = r.strIn(int(c), path, "."+name)
	}
	return out
}

func (r *reader) uint32(i int, path string) uint32 {
	n, _ := r.number(i, path, 32)
	return uint32(n)
}

// errno reads an optional errno (a *uint in the spec types).
func (r *reader) errno(i int, path string) *uint {
	n, ok := r.number(i, path, strconv.IntSize)
	if !ok {
		return nil
	}
	u := uint(n)
	return &u
}

// number reads an unsigned integer of bits bits, refusing what Go's
// decoder refuses (a fraction, a sign, too large).
func (r *reader) number(i int, path string, bits int) (uint64, bool) {
	switch {
	case r.d.isNull(i):
		return 0, false
	case r.d.nodes[i].kind != '0':
		r.typeError(i, path, "an unsigned integer")
		return 0, false
	}
	n, err := strconv.ParseUint(string(r.d.bytes(i)), 10, bits)
	if err != nil {
		r.fail(fmt.Errorf("%s: cannot unmarshal number %s into an unsigned %d-bit integer", path, r.d.bytes(i), bits))
		return 0, false
	}
	return n, true
}

// ParseState decodes the state a runtime passes to a hook on stdin.
func ParseState(raw []byte) (*specs.State, error) {
	if _, err := checkObject(raw, nil); err != nil {
		return nil, err
	}
	var st specs.State
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, errkind.BadInput(fmt.Errorf("parse state: %w", err))
	}
	return &st, nil
}

// checkObject indexes raw, which must be one JSON object without a
// repeated member, reusing old's memory when old is not nil.
func checkObject(raw []byte, old *doc) (*doc, error) {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errkind.BadInput(errors.New("parse: input is empty"))
	}
	if trimmed[0] != '{' {
		return nil, errkind.BadInput(errors.New("parse: input is not a JSON object"))
	}
	d, err := reparseDoc(raw, old)
	if err != nil {
		return nil, errkind.BadInput(fmt.Errorf("parse: %w", err))
	}
	return d, nil
}
