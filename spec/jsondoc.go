package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode"

	"github.com/go-json-experiment/json/jsontext"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// doc is a JSON text indexed in one pass: every value by its byte range,
// objects' members by name. crhook reads the members it decides on from
// the index and edits the text by splicing (see edits), so every byte it
// does not edit, unknown members included, reaches the runtime as it was.
//
// The pass is also the strictness: jsontext refuses malformed JSON and
// invalid UTF-8; doc refuses a name given twice in one object, and two
// names that Go's decoder (runc's) would take for the same struct field
// because they differ only in letter case (see foldName), where parsers
// disagree on which one wins.
type doc struct {
	raw   []byte
	nodes []node
	// escaped holds the member names written with escapes, unquoted, by
	// their nameStart; the others are read in place in raw.
	escaped map[int32][]byte
	mem     *memory
}

// memory is where the strings and lists crhook reads from a spec live:
// one buffer for each kind instead of an allocation per value (a seccomp
// profile has hundreds), and fresh memory costs a short-lived hook page
// faults. A re-read of an edited spec takes over the first read's (see
// reparseDoc), cutting after what that one holds.
type memory struct {
	// text holds strings unquoted one after another.
	text strings.Builder
	// dec is the decoder, kept to be reset.
	dec  *jsontext.Decoder
	strs []string
	args []specs.LinuxSeccompArg
}

// node is one JSON value, in 24 bytes: a large spec has hundreds of
// thousands of values, so the index keeps only what crhook cannot find
// again cheaply. Offsets are int32 (parseDoc refuses larger texts); a
// member's name is found from nameStart, and a container's size by
// walking its children.
type node struct {
	kind jsontext.Kind // '{', '[', '"', '0', 't', 'f' or 'n'
	// escapedName: the member name has escapes (see doc.escaped).
	escapedName bool
	// flat marks a container whose children are not indexed: an array of
	// scalars, or an object of scalars and such arrays. Most of a large
	// spec is such (env, mounts, their options), rarely read child by
	// child; their nodes would be most of the index. firstChild indexes
	// them when asked (expand), and readers may scan them in place
	// (flatChildren).
	flat       bool
	start, end int32 // the value is raw[start:end]
	// nameStart is the offset of the member name's opening quote, when
	// the parent is an object.
	nameStart int32
	// first is the first child, next the next sibling; -1 for none.
	first, next int32
}

// ErrDuplicateKey marks JSON with an object member given twice, or, for
// struct members, twice in different letter case. Parsers disagree on
// which copy wins (Go takes the last and ignores case, others take the
// first), so such a spec could mean one thing to crhook and another to
// the runtime.
var ErrDuplicateKey = errors.New("duplicate key")

// ErrMemberCase marks a member spelled with other letter case than the
// runtime spec's. Go's decoder (runc, crhook) matches member names without
// regard to case and crun's does not, so such a spec means different
// things to different runtimes.
var ErrMemberCase = errors.New("member name in the wrong letter case")

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// maxDocSize bounds what the index can address (its offsets are int32);
// the hooks read at most hook.MaxSpecSize.
const maxDocSize = math.MaxInt32

// parseDoc indexes raw, which must be exactly one JSON object.
func parseDoc(raw []byte) (*doc, error) { return reparseDoc(raw, nil) }

// reparseDoc is parseDoc taking over old's index memory, when old is no
// longer used: in a hook's short life, fresh memory costs more than the
// parse does.
func reparseDoc(raw []byte, old *doc) (*doc, error) {
	if len(raw) > maxDocSize {
		return nil, fmt.Errorf("JSON text of %d bytes is larger than %d", len(raw), maxDocSize)
	}
	d, err := indexDoc(raw, old)
	return d, jsonError(err)
}

// maxNodes bounds how many values raw can hold: each value but the first
// in a container follows a comma, and each first one follows the bracket
// that opens its container. Counting bytes inside strings too only
// overestimates, and sizing the index once saves regrowing it.
func maxNodes(raw []byte) int {
	return 1 + bytes.Count(raw, []byte{','}) + bytes.Count(raw, []byte{'['}) + bytes.Count(raw, []byte{'{'})
}

// unquote returns the text of JSON string v, kept in d.text.
func (d *doc) unquote(v []byte) (string, error) {
	text := &d.mem.text
	if text.Cap() == 0 {
		// The strings crhook reads are a fraction of the spec (a third of
		// a typical one, less of a large one), so this holds those of a
		// read and a re-read; pages it leaves untouched cost nothing.
		text.Grow(len(d.raw))
	}
	start := text.Len()
	if bytes.IndexByte(v, '\\') < 0 {
		// No escapes: the decoder has checked the rest (UTF-8, no
		// control bytes), so the text is what is between the quotes.
		text.Write(v[1 : len(v)-1])
	} else {
		s, err := jsontext.AppendUnquote(nil, v)
		if err != nil {
			return "", err
		}
		text.Write(s)
	}
	return text.String()[start:], nil
}

// jsonError words jsontext's errors the way crhook's users read them.
// (Duplicate names are crhook's own error: see frame.repeats.)
func jsonError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of JSON input")
	}
	return err
}

func indexDoc(raw []byte, old *doc) (*doc, error) {
	d := &doc{raw: raw, mem: &memory{}}
	if old != nil {
		d.mem = old.mem
	}
	if n := maxNodes(raw); old != nil && cap(old.nodes) >= n {
		d.nodes, old.nodes = old.nodes[:0], nil
	} else {
		// Room for what Adjust adds, so its re-read can reuse these.
		d.nodes = make([]node, 0, n+editRoom)
	}
	// crhook checks names itself (see frame.repeats): jsontext's check
	// would allocate for every object.
	if d.mem.dec == nil {
		d.mem.dec = jsontext.NewDecoder(bytes.NewBuffer(raw), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(false))
	} else {
		d.mem.dec.Reset(bytes.NewBuffer(raw), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(false))
	}
	ix := indexer{d: d, dec: d.mem.dec, open: make([]frame, 0, 16)}
	for {
		done, err := ix.step()
		if err != nil {
			return nil, err
		}
		if done {
			return ix.d, ix.d.atEnd(ix.dec)
		}
	}
}

// editRoom is how many values an adjustment adds at most, in the usual
// case: capabilities in five sets, a seccomp rule, hooks, annotations.
const editRoom = 64

// indexer builds a doc from jsontext's tokens.
type indexer struct {
	d   *doc
	dec *jsontext.Decoder
	// open holds the containers being read.
	open []frame
	// name is the member name read and not yet given its value, and
	// nameStart the offset of its opening quote.
	name        []byte
	nameStart   int32
	escapedName bool
	haveName    bool
}

// frame is a container being read.
type frame struct {
	index, last int32
	// byField: the object decodes into a struct, whose member names Go's
	// decoder matches without regard to case; otherwise names compare
	// exactly (a map, or an array's elements, which have none).
	byField bool
	// containers: the container holds a container. deep: it holds an
	// object, or an array that is not flat.
	containers, deep bool
	// seen indexes the names of an object too large to compare one by
	// one, from the smallObject-th member on.
	seen map[string]struct{}
}

// step reads one token, or a scalar value, and reports when the
// top-level value is complete.
func (ix *indexer) step() (bool, error) {
	kind := ix.dec.PeekKind()
	switch {
	case kind == 0:
		if _, err := ix.dec.ReadToken(); err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		return false, errors.New("unexpected end of JSON input")
	case kind == '}' || kind == ']':
		if _, err := ix.dec.ReadToken(); err != nil {
			return false, err
		}
		f := ix.open[len(ix.open)-1]
		ix.open = ix.open[:len(ix.open)-1]
		n := &ix.d.nodes[f.index]
		n.end = int32(ix.dec.InputOffset())
		if n.first >= 0 && (kind == ']' && !f.containers || kind == '}' && !f.deep) {
			// Its children are the last nodes added: give their room back.
			ix.d.nodes = ix.d.nodes[:f.index+1]
			n.first, n.flat = -1, true
		}
		if k := len(ix.open); k > 0 && kind == ']' && !n.flat && n.first >= 0 {
			ix.open[k-1].deep = true
		}
		return len(ix.open) == 0, nil
	case !ix.haveName && len(ix.open) > 0 && ix.d.nodes[ix.open[len(ix.open)-1].index].kind == '{':
		return false, ix.readName()
	case kind == '{' || kind == '[':
		if len(ix.open) >= maxDepth {
			return false, fmt.Errorf("exceeded max depth %d", maxDepth)
		}
		byField := kind == '{' && !(ix.haveName && isMapMember(ix.name))
		if _, err := ix.dec.ReadToken(); err != nil {
			return false, err
		}
		i := ix.add(node{kind: kind, start: int32(ix.dec.InputOffset()) - 1})
		ix.open = append(ix.open, frame{index: i, last: -1, byField: byField})
		return false, nil
	}
	v, err := ix.dec.ReadValue()
	if err != nil {
		return false, err
	}
	end := int32(ix.dec.InputOffset())
	ix.add(node{kind: kind, start: end - int32(len(v)), end: end})
	return len(ix.open) == 0, nil
}

// readName reads a member name, refusing one the object has already.
func (ix *indexer) readName() error {
	v, err := ix.dec.ReadValue()
	if err != nil {
		return err
	}
	name, escaped := v[1:len(v)-1], bytes.IndexByte(v, '\\') >= 0
	if escaped {
		if name, err = jsontext.AppendUnquote(nil, v); err != nil {
			return err
		}
	}
	f := &ix.open[len(ix.open)-1]
	if f.repeats(ix.d, name) {
		return fmt.Errorf("%w %s", ErrDuplicateKey, quote(string(name)))
	}
	ix.name, ix.escapedName, ix.haveName = name, escaped, true
	ix.nameStart = int32(ix.dec.InputOffset()) - int32(len(v))
	return nil
}

// add appends n as the next child of the innermost open container.
func (ix *indexer) add(n node) int32 {
	n.first, n.next = -1, -1
	if ix.haveName {
		n.nameStart, n.escapedName = ix.nameStart, ix.escapedName
		if ix.escapedName {
			if ix.d.escaped == nil {
				ix.d.escaped = map[int32][]byte{}
			}
			ix.d.escaped[ix.nameStart] = ix.name
		}
	}
	i := int32(len(ix.d.nodes))
	if k := len(ix.open); k > 0 {
		f := &ix.open[k-1]
		f.containers = f.containers || n.kind == '{' || n.kind == '['
		f.deep = f.deep || n.kind == '{'
		if f.last < 0 {
			ix.d.nodes[f.index].first = i
		} else {
			ix.d.nodes[f.last].next = i
		}
		f.last = i
	}
	ix.d.nodes = append(ix.d.nodes, n)
	ix.name, ix.haveName = nil, false
	return i
}

// smallObject is how many members an object compares a new name with
// one by one before it indexes them: spec objects are small, hostile
// ones need not be.
const smallObject = 16

// repeats reports whether object f already has a member that name
// would be taken for, and records name.
func (f *frame) repeats(d *doc, name []byte) bool {
	if f.seen != nil {
		key := f.key(name)
		_, dup := f.seen[key]
		f.seen[key] = struct{}{}
		return dup
	}
	n := 0
	for c := d.firstChild(int(f.index)); c >= 0; c = d.next(c) {
		if have := d.name(c); bytes.Equal(have, name) || f.byField && bytes.EqualFold(have, name) {
			return true
		}
		n++
	}
	if n+1 < smallObject {
		return false
	}
	f.seen = make(map[string]struct{}, 2*smallObject)
	for c := d.firstChild(int(f.index)); c >= 0; c = d.next(c) {
		f.seen[f.key(d.name(c))] = struct{}{}
	}
	f.seen[f.key(name)] = struct{}{}
	return false
}

// key is name as f compares it.
func (f *frame) key(name []byte) string {
	if f.byField {
		return foldName(string(name))
	}
	return string(name)
}

// name is the member name of node c, unquoted; it must not be changed.
func (d *doc) name(c int) []byte { return d.nameOf(&d.nodes[c]) }

// nameOf is the member name of n, which is a member of an object in d.
func (d *doc) nameOf(n *node) []byte {
	if n.escapedName {
		return d.escaped[n.nameStart]
	}
	// Without escapes, the first quote after the opening one ends it.
	text := d.raw[n.nameStart+1:]
	return text[:bytes.IndexByte(text, '"')]
}

// atEnd checks that nothing but white space follows the top-level value.
func (d *doc) atEnd(dec *jsontext.Decoder) error {
	if d.nodes[0].kind != '{' {
		return errors.New("input is not a JSON object")
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("data after the top-level value")
		}
		return err
	}
	return nil
}

// mapMembers are the spec members that decode into Go maps, whose keys
// are compared exactly; every other object decodes into a struct, whose
// member names Go matches without regard to case.
var mapMembers = []string{"annotations", "sysctl", "unified", "rdma", "netDevices"}

// isMapMember reports whether member name (matched as Go's decoder
// matches it to a field) holds a map.
func isMapMember(name []byte) bool {
	for _, m := range mapMembers {
		if bytes.EqualFold([]byte(m), name) {
			return true
		}
	}
	return false
}

// member returns the index of obj's member key, or -1. It refuses an
// object that holds key only in another letter case.
func (d *doc) member(obj int, key string) (int, error) {
	if obj < 0 || d.nodes[obj].kind != '{' {
		return -1, nil
	}
	for c := d.firstChild(obj); c >= 0; c = d.next(c) {
		switch name := d.name(c); {
		case string(name) == key:
			return c, nil
		case bytes.EqualFold(name, []byte(key)):
			return -1, fmt.Errorf("%w: %q, spell it %q", ErrMemberCase, name, key)
		}
	}
	return -1, nil
}

// memberExact returns the index of member key of a map object, whose
// keys compare exactly, or -1.
func (d *doc) memberExact(obj int, key string) int {
	if obj < 0 || d.nodes[obj].kind != '{' {
		return -1
	}
	for c := d.firstChild(obj); c >= 0; c = d.next(c) {
		if string(d.name(c)) == key {
			return c
		}
	}
	return -1
}

// path follows keys from obj through nested objects; -1 when one is
// absent or not an object.
func (d *doc) path(obj int, keys ...string) (int, error) {
	for _, k := range keys {
		i, err := d.member(obj, k)
		if err != nil || i < 0 {
			return -1, err
		}
		obj = i
	}
	return obj, nil
}

func (d *doc) bytes(i int) []byte { return d.raw[d.nodes[i].start:d.nodes[i].end] }

func (d *doc) isArray(i int) bool { return i >= 0 && d.nodes[i].kind == '[' }

func (d *doc) isNull(i int) bool { return i < 0 || d.nodes[i].kind == 'n' }

// elements returns the children of array i (none for null or absent).
func (d *doc) elements(i int) []int {
	if !d.isArray(i) {
		return nil
	}
	out := make([]int, 0, d.count(i))
	for c := d.firstElement(i); c >= 0; c = d.next(c) {
		out = append(out, c)
	}
	return out
}

// firstElement is the first element of array i: -1 when it has none, or
// is null, absent or not an array.
func (d *doc) firstElement(i int) int {
	if !d.isArray(i) {
		return -1
	}
	return d.firstChild(i)
}

// count is how many members or elements container i has.
func (d *doc) count(i int) int {
	n := 0
	for c := d.firstChild(i); c >= 0; c = d.next(c) {
		n++
	}
	return n
}

// firstChild is the first member or element of container i, or -1.
func (d *doc) firstChild(i int) int {
	if d.nodes[i].flat {
		d.expand(i)
	}
	return int(d.nodes[i].first)
}

// expand indexes the children of flat container i.
func (d *doc) expand(i int) {
	last := int32(-1)
	d.flatChildren(d.nodes[i], func(n node) {
		at := int32(len(d.nodes))
		d.nodes = append(d.nodes, n)
		if last < 0 {
			d.nodes[i].first = at
		} else {
			d.nodes[last].next = at
		}
		last = at
	})
	d.nodes[i].flat = false
}

// flatChildren calls f with each child of container c, which is flat or
// empty, as a node without links; arrays among an object's members come
// as flat nodes. The text was checked when it was indexed, so a scan by
// first bytes and ends finds them.
func (d *doc) flatChildren(c node, f func(node)) {
	b, pos, end := d.raw, c.start+1, c.end-1
	object := c.kind == '{'
	for {
		if pos = skipSpace(b, pos, end); pos >= end {
			return
		}
		n := node{first: -1, next: -1}
		if object {
			n.nameStart = pos
			pos = stringEnd(b, pos)
			n.escapedName = bytes.IndexByte(b[n.nameStart:pos], '\\') >= 0
			pos = skipSpace(b, pos, end) + 1 // the colon
			pos = skipSpace(b, pos, end)
		}
		n.start, n.kind = pos, jsontext.Kind(b[pos])
		switch n.kind {
		case '"':
			pos = stringEnd(b, pos)
		case '[':
			for pos++; b[pos] != ']'; pos++ {
				if b[pos] == '"' {
					pos = stringEnd(b, pos) - 1
				}
			}
			pos++
			n.flat = pos-n.start > 2 && len(bytes.TrimSpace(b[n.start+1:pos-1])) > 0
		case 't', 'f', 'n':
			pos = scalarEnd(b, pos, end)
		default:
			n.kind, pos = '0', scalarEnd(b, pos, end)
		}
		n.end = pos
		f(n)
		if pos = skipSpace(b, pos, end); pos < end && b[pos] == ',' {
			pos++
		}
	}
}

// stringEnd is the offset after the JSON string that opens at pos.
func stringEnd(b []byte, pos int32) int32 {
	for pos++; b[pos] != '"'; pos++ {
		if b[pos] == '\\' {
			pos++
		}
	}
	return pos + 1
}

func skipSpace(b []byte, pos, end int32) int32 {
	for pos < end && (b[pos] == ' ' || b[pos] == '\t' || b[pos] == '\n' || b[pos] == '\r') {
		pos++
	}
	return pos
}

// scalarEnd is where the number or literal at pos ends.
func scalarEnd(b []byte, pos, end int32) int32 {
	for pos < end && b[pos] != ',' && b[pos] != ' ' && b[pos] != '\t' && b[pos] != '\n' && b[pos] != '\r' {
		pos++
	}
	return pos
}

// next is the sibling after c, or -1.
func (d *doc) next(c int) int { return int(d.nodes[c].next) }

// foldName folds a member name as Go's decoder does when it matches a
// name to a struct field: each rune becomes the smallest rune of its
// Unicode simple-fold orbit (strings.EqualFold's relation). strings.ToLower
// is not that: Go also matches "ſ" (U+017F) to "s".
func foldName(name string) string {
	return strings.Map(func(r rune) rune {
		for {
			f := unicode.SimpleFold(r)
			if f <= r {
				return f
			}
			r = f
		}
	}, name)
}
