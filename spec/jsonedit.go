package spec

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// edits collects splices into a doc's text: crhook changes a spec by
// inserting and cutting bytes at the places its index gives, so what it
// does not change keeps its bytes, its order and its layout. Members and
// elements are added at the end of their object or array, each after a
// comma when something comes before it.
type edits struct {
	d      *doc
	splice []splice
	// count is each container's number of children after the edits so
	// far, for the commas.
	count map[int]int
	// removed holds, per container, the children to cut out.
	removed map[int]map[int]bool
}

type splice struct {
	start, end int32
	text       []byte
}

func newEdits(d *doc) *edits { return &edits{d: d, count: map[int]int{}} }

func (e *edits) children(i int) int {
	if n, ok := e.count[i]; ok {
		return n
	}
	return e.d.count(i)
}

// add puts text into container i (an object's member, an array's
// element) at its end.
func (e *edits) add(i int, text []byte) {
	at := e.d.nodes[i].end - 1
	if e.children(i) > 0 {
		text = append([]byte{','}, text...)
	}
	e.count[i] = e.children(i) + 1
	e.splice = append(e.splice, splice{start: at, end: at, text: text})
}

// addMember adds "name":value to object obj.
func (e *edits) addMember(obj int, name string, value []byte) {
	e.add(obj, slices.Concat(jsonString(name), []byte{':'}, value))
}

// set makes member name of object obj text: in place of value i, the
// member's current value, or added when i is -1.
func (e *edits) set(obj, i int, name string, text []byte) {
	if i >= 0 {
		e.replace(i, text)
	} else {
		e.addMember(obj, name, text)
	}
}

// replace puts text in place of value i.
func (e *edits) replace(i int, text []byte) {
	e.splice = append(e.splice, splice{start: e.d.nodes[i].start, end: e.d.nodes[i].end, text: text})
}

// remove cuts child c (a member with its name, or an element) out of
// container parent. apply joins the cuts of one container, so that each run of
// removed children goes with the comma to the next kept child, or to the
// one before when the run ends the container.
func (e *edits) remove(parent, c int) {
	if e.removed == nil {
		e.removed = map[int]map[int]bool{}
	}
	if e.removed[parent] == nil {
		e.removed[parent] = map[int]bool{}
	}
	if !e.removed[parent][c] {
		e.removed[parent][c] = true
		e.count[parent] = e.children(parent) - 1
	}
}

// cuts turns the removals into splices.
func (e *edits) cuts() {
	for parent, gone := range e.removed {
		start := func(i int) int32 {
			if e.d.nodes[parent].kind == '{' {
				return e.d.nodes[i].nameStart
			}
			return e.d.nodes[i].start
		}
		prevKept, runFirst, runLast := -1, -1, -1
		flush := func(nextKept int) {
			switch {
			case runFirst < 0:
			case nextKept >= 0:
				e.splice = append(e.splice, splice{start: start(runFirst), end: start(nextKept)})
			case prevKept >= 0:
				e.splice = append(e.splice, splice{start: e.d.nodes[prevKept].end, end: e.d.nodes[runLast].end})
			default:
				e.splice = append(e.splice, splice{start: start(runFirst), end: e.d.nodes[runLast].end})
			}
			runFirst = -1
		}
		for c := e.d.firstChild(parent); c >= 0; c = e.d.next(c) {
			if gone[c] {
				if runFirst < 0 {
					runFirst = c
				}
				runLast = c
				continue
			}
			flush(c)
			prevKept = c
		}
		flush(-1)
	}
}

// apply returns the text with every splice made.
func (e *edits) apply() ([]byte, error) {
	e.cuts()
	e.removed = nil
	slices.SortStableFunc(e.splice, func(a, b splice) int { return cmp.Compare(a.start, b.start) })
	var out bytes.Buffer
	out.Grow(len(e.d.raw) + 256)
	pos := int32(0)
	for _, s := range e.splice {
		if s.start < pos {
			return nil, fmt.Errorf("overlapping edits at byte %d", s.start)
		}
		out.Write(e.d.raw[pos:s.start])
		out.Write(s.text)
		pos = s.end
	}
	out.Write(e.d.raw[pos:])
	return out.Bytes(), nil
}

// jsonString encodes s as a JSON string, leaving <, > and & as they are,
// so strings crhook passes through keep their bytes. Invalid UTF-8, which
// crhook never reads from a spec, would become U+FFFD.
func jsonString(s string) []byte {
	b, _ := jsontext.AppendQuote(nil, s)
	return b
}

// jsonStrings encodes list as a JSON array of strings.
func jsonStrings(list []string) []byte {
	b := []byte{'['}
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b, _ = jsontext.AppendQuote(b, s)
	}
	return append(b, ']')
}

// jsonMember is one member of an object jsonObject writes: its name and
// its value, already encoded.
type jsonMember struct {
	name  string
	value []byte
}

// jsonObject encodes members, in order, as a JSON object. crhook writes
// its few kinds of values by hand: encoding/json's reflection would cost
// a hook more on its first call than the whole edit does.
func jsonObject(members ...jsonMember) []byte {
	b := []byte{'{'}
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b, _ = jsontext.AppendQuote(b, m.name)
		b = append(b, ':')
		b = append(b, m.value...)
	}
	return append(b, '}')
}

// jsonHook encodes h as runtime-spec's Hook type does.
func jsonHook(h specs.Hook) []byte {
	members := []jsonMember{{"path", jsonString(h.Path)}}
	if len(h.Args) > 0 {
		members = append(members, jsonMember{"args", jsonStrings(h.Args)})
	}
	if len(h.Env) > 0 {
		members = append(members, jsonMember{"env", jsonStrings(h.Env)})
	}
	if h.Timeout != nil {
		members = append(members, jsonMember{"timeout", strconv.AppendInt(nil, int64(*h.Timeout), 10)})
	}
	return jsonObject(members...)
}
