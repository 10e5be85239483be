package install

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"

	"github.com/crhook/crhook/internal/atomicfile"
)

// writeTable writes table at the dotted path as TOML: its plain keys
// under one header, then each sub-table under its own. Only the tables
// themselves get headers, so the text can be appended to a file that
// already has their parents.
func writeTable(b *strings.Builder, path []string, table map[string]any) error {
	var plain, sub []string
	for _, k := range slices.Sorted(maps.Keys(table)) {
		switch table[k].(type) {
		case map[string]any:
			sub = append(sub, k)
		case []any:
			if slices.ContainsFunc(table[k].([]any), func(e any) bool { _, ok := e.(map[string]any); return ok }) {
				return fmt.Errorf("%s.%s: an array of tables crhook cannot copy", dotted(path), k)
			}
			plain = append(plain, k)
		default:
			plain = append(plain, k)
		}
	}
	fmt.Fprintf(b, "[%s]\n", dotted(path))
	for _, k := range plain {
		line, err := toml.Marshal(map[string]any{k: table[k]})
		if err != nil {
			return fmt.Errorf("%s.%s: %w", dotted(path), k, err)
		}
		b.WriteString("  " + string(line))
	}
	for _, k := range sub {
		if err := writeTable(b, append(slices.Clone(path), k), table[k].(map[string]any)); err != nil {
			return err
		}
	}
	return nil
}

// bareKey is compiled on first use, as importsLine is.
var bareKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]+$`) })

// dotted joins a key path, quoting the parts that are not bare keys.
func dotted(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		if bareKey().MatchString(p) {
			parts[i] = p
		} else {
			parts[i] = strconv.Quote(p)
		}
	}
	return strings.Join(parts, ".")
}

// lookupTable follows path through nested tables; nil when one is absent.
func lookupTable(m map[string]any, path []string) map[string]any {
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m
}

// deepCopy copies a decoded TOML table, sub-tables included.
func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = deepCopy(sub)
		}
		out[k] = v
	}
	return out
}

// stringList reads a TOML array of strings; anything else gives nil.
func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// union is a then every element of b not in it.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// hostGlob expands import patterns on the host, in the order containerd
// takes them: each pattern's matches sorted, as filepath.Glob gives them.
func (o Options) hostGlob(patterns []string) ([]string, error) {
	d, err := openRoot(o.HostRoot)
	if err != nil {
		return nil, nil
	}
	defer d.Close()
	var files []string
	for _, p := range patterns {
		if !strings.Contains(p, "*") { // containerd globs only a pattern with a *
			files = append(files, p)
			continue
		}
		matches, err := globIn(d, p)
		if err != nil {
			return nil, err
		}
		files = append(files, matches...)
	}
	return files, nil
}

// maxGlobEntries bounds the directory entries one pattern may make
// crhook look at: a pattern such as /*/*/* would have it walk the host.
// A variable, so a test can lower it.
var maxGlobEntries = 1 << 16

// globIn is filepath.Glob of the absolute pattern inside the root d: an
// element with a wildcard is matched against its directory's entries,
// in name order; a plain one is taken as it stands.
func globIn(d *atomicfile.Dir, pattern string) ([]string, error) {
	matches, seen := []string{"/"}, 0
	for _, elem := range strings.Split(strings.TrimPrefix(filepath.Clean(pattern), "/"), "/") {
		var next []string
		for _, dir := range matches {
			if !strings.ContainsAny(elem, `*?[\`) {
				// A missing path reads as an empty file, as if unmatched.
				next = append(next, filepath.Join(dir, elem))
				continue
			}
			names, err := d.ReadDir(dir)
			if err != nil {
				continue
			}
			if seen += len(names); seen > maxGlobEntries {
				return nil, fmt.Errorf("imports pattern %q reaches more than %d directory entries; narrow it to the files it means", pattern, maxGlobEntries)
			}
			for _, n := range names {
				if ok, _ := filepath.Match(elem, n); ok {
					next = append(next, filepath.Join(dir, n))
				}
			}
		}
		matches = next
	}
	return matches, nil
}
