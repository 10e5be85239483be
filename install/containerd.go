package install

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"

	"github.com/crhook/crhook/spec"
)

// DefaultContainerdConfig is containerd's config file.
const DefaultContainerdConfig = "/etc/containerd/config.toml"

// Markers around the block crhook appends, so uninstall removes exactly
// it and the rest of the file, comments included, is never rewritten.
const (
	blockBegin = "# BEGIN crhook: managed by `crhook install`; `crhook uninstall` removes this block"
	blockEnd   = "# END crhook"
)

// containerdDropIn is crhook's file for containerd 2.x, beside the main
// config's directory, under the conf.d that containerd 2.2's default
// config already imports.
const containerdDropIn = "conf.d/99-crhook.toml"

// importsMarker ends the imports line crhook adds, so uninstall knows
// the line is its own.
const importsMarker = "  # added by crhook install"

// Containerd returns the plan for containerd: a runtime entry "crhook"
// for the CRI plugin whose runc binary is crhook-runtime, passing the
// opt-in annotations from pods and containers to the spec, and carrying
// every setting of the node's runc runtime (SystemdCgroup and the rest of
// its options): a crhook pod must run under the cgroup driver kubelet
// expects.
//
// Where the entry goes depends on how containerd merges imported files.
// containerd 1.x (config versions 1 and 2) replaces a plugin's whole
// table with an imported one (services/server/config/config.go
// mergeConfig, 1.6): a drop-in holding only crhook's runtime would drop
// the node's sandbox image and runc runtime. So there crhook appends a
// marked block to the main file. containerd 2.x (version 3) merges
// imports key by key, so crhook writes a drop-in and lists it in the
// main file's imports when no pattern there covers it.
func Containerd(o Options, uninstall bool) (Plan, error) {
	path := orDefault(o.EngineConfig, DefaultContainerdConfig)
	p := o.plan("containerd", uninstall, Containerd)
	p.Next = []string{"restart containerd; Kubernetes pods select it with runtimeClassName: " + RuntimeName}
	current, err := o.engineFile(path, uninstall)
	if err != nil {
		return p, err
	}
	base := removeBlock(current)
	cfg, err := readContainerd(o, path, base)
	if err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	if bin := cfg.nodeBinary(); bin != "" && !uninstall {
		p.Next = append(p.Next, "the node's runc runtime runs "+bin+"; crhook-runtime execs runc from PATH unless runtime = "+strconv.Quote(bin)+" is set in the crhook config")
	}
	if cfg.version == 3 {
		return containerdV3(o, p, path, base, cfg, uninstall)
	}
	// containerd 1.x takes the CRI plugin's table whole from the last file
	// that has one, so crhook's block goes into that file, and out of any
	// other that still holds an older one.
	why := "add the " + RuntimeName + " runtime (RuntimeClass handler " + RuntimeName + "), with the node's runc settings"
	var block string
	if !uninstall {
		table, err := cfg.runtimeTable(o.runtimeEntry())
		if err != nil {
			return p, fmt.Errorf("%s: %w", path, err)
		}
		block = cfg.prelude() + table
	}
	for _, file := range cfg.files {
		data := current
		if file != path {
			if data, err = o.engineFile(file, true); err != nil {
				return p, err
			}
		}
		stripped := removeBlock(data)
		next := stripped
		if !uninstall && file == cfg.criFile {
			next = appendBlock(stripped, block)
			if err := checkContainerdConfig(next); err != nil {
				return p, fmt.Errorf("%s: %w", file, err)
			}
		} else if bytes.Equal(stripped, data) {
			continue
		}
		if len(bytes.TrimSpace(next)) == 0 && len(data) > 0 {
			next = nil // the file held only crhook's block
		}
		what := why
		if uninstall || file != cfg.criFile {
			what = "remove the " + RuntimeName + " runtime"
		}
		p.Changes = append(p.Changes, Change{Path: o.onHost(file), Content: next, Mode: 0o644, Why: what})
	}
	return p, nil
}

// containerdV3 writes or removes the drop-in, and the imports entry
// crhook added for it.
func containerdV3(o Options, p Plan, path string, base []byte, cfg containerdConfig, uninstall bool) (Plan, error) {
	dropIn := filepath.Join(filepath.Dir(path), containerdDropIn)
	main := withoutCrhookImport(base, dropIn)
	if uninstall {
		p.Changes = []Change{{Path: o.onHost(dropIn), Why: "crhook's containerd drop-in"}}
		if !bytes.Equal(main, base) {
			p.Changes = append(p.Changes, Change{Path: o.onHost(path), Content: main, Mode: 0o644, Why: "drop crhook's drop-in from imports"})
		}
		return p, nil
	}
	// containerd loads every path an import names or globs as a file;
	// on a directory it stops ("failed to load TOML: ...: is a
	// directory", containerd 1.6 here). A pattern that takes in the
	// directory crhook is about to create would stop containerd at its
	// next start.
	if dir := filepath.Dir(dropIn); cfg.imports(dir) {
		return p, fmt.Errorf("%s: an imports entry matches %s, the directory crhook creates for its drop-in, and containerd cannot load a directory; narrow it to files, such as %q", path, dir, filepath.Join(dir, "*.toml"))
	}
	table, err := cfg.runtimeTable(o.runtimeEntry())
	if err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	text := ownFileMarker + " --for containerd`; `crhook uninstall --for containerd` removes it.\nversion = 3\n\n" + table
	if err := checkContainerdConfig([]byte(text)); err != nil {
		return p, fmt.Errorf("%s: %w", dropIn, err)
	}
	p.Changes = []Change{{Path: o.onHost(dropIn), Content: []byte(text), Mode: 0o644, Whole: true,
		Why: "add the " + RuntimeName + " runtime (RuntimeClass handler " + RuntimeName + "), with the node's runc settings"}}
	if !cfg.imports(dropIn) {
		p.Changes = append(p.Changes, Change{Path: o.onHost(path), Content: withCrhookImport(base, dropIn), Mode: 0o644, Why: "import crhook's drop-in"})
	}
	return p, nil
}

// containerdConfig is containerd's config as containerd reads it: the
// main file with its imports merged in (crhook's own drop-in left out).
type containerdConfig struct {
	version int
	dir     string
	tree    map[string]any
	// importPatterns are the imports of the main file and of every
	// imported one, absolute.
	importPatterns []string
	// files are the main file and the imported ones, in load order.
	files []string
	// criFile is the last of files to hold the CRI plugin's table (the
	// main file when none does): containerd 1.x takes that one whole.
	criFile string
	empty   bool
}

// readContainerd reads the main file and every file it imports from the
// host.
func readContainerd(o Options, path string, main []byte) (containerdConfig, error) {
	cfg := containerdConfig{dir: filepath.Dir(path), empty: len(bytes.TrimSpace(main)) == 0, files: []string{path}, criFile: path}
	if err := toml.Unmarshal(main, &cfg.tree); err != nil {
		return cfg, fmt.Errorf("parse: %w", err)
	}
	switch v := cfg.tree["version"].(type) {
	case nil:
		// containerd reads a file without a version as version 1; into an
		// empty one crhook writes version 2 (prelude).
		cfg.version = 1
		if cfg.empty {
			cfg.version = 2
		}
	case int64:
		cfg.version = int(v)
	default:
		return cfg, fmt.Errorf("version %#v is not a number; write it without quotes, such as version = 2", v)
	}
	if cfg.version < 1 || cfg.version > 3 {
		return cfg, fmt.Errorf("config version %d is not one crhook knows (1, 2 or 3)", cfg.version)
	}
	cfg.importPatterns = cfg.resolveImports(path, cfg.tree["imports"])
	// containerd's LoadConfig takes files breadth first, each once, and
	// follows the imports of imported files too.
	own := filepath.Join(cfg.dir, containerdDropIn)
	pending, err := o.hostGlob(cfg.importPatterns)
	if err != nil {
		return cfg, err
	}
	for ; len(pending) > 0; pending = pending[1:] {
		file := pending[0]
		if file == own || slices.Contains(cfg.files, file) {
			continue
		}
		data, err := o.engineFile(file, true)
		if err != nil {
			return cfg, err
		}
		var imported map[string]any
		if err := toml.Unmarshal(removeBlock(data), &imported); err != nil {
			return cfg, fmt.Errorf("parse import %s: %w", file, err)
		}
		cfg.files = append(cfg.files, file)
		if lookupTable(imported, cfg.criPath()[:2]) != nil {
			cfg.criFile = file
		}
		nested := cfg.resolveImports(file, imported["imports"])
		cfg.importPatterns = union(cfg.importPatterns, nested)
		more, err := o.hostGlob(nested)
		if err != nil {
			return cfg, err
		}
		pending = append(pending, more...)
		cfg.merge(imported)
	}
	return cfg, nil
}

// resolveImports makes the imports of the file at path absolute, as
// containerd does (resolveImports in its server config package): a
// relative entry is taken from path's directory, except that 1.x
// (versions 1 and 2) globs a relative pattern as it stands, from its
// working directory, which is / under systemd. Only an entry with a *
// is a pattern.
func (c containerdConfig) resolveImports(path string, imports any) []string {
	var out []string
	for _, imp := range stringList(imports) {
		if !filepath.IsAbs(imp) {
			from := filepath.Dir(path)
			if c.version < 3 && strings.Contains(imp, "*") {
				from = "/"
			}
			imp = filepath.Join(from, imp)
		}
		out = append(out, filepath.Clean(imp))
	}
	return out
}

// merge lays an imported file over the config as containerd does: 2.x
// key by key, 1.x with each plugin's table replaced whole.
func (c *containerdConfig) merge(imported map[string]any) {
	if c.version == 3 {
		deepMerge(c.tree, imported)
		return
	}
	plugins, _ := imported["plugins"].(map[string]any)
	delete(imported, "plugins")
	deepMerge(c.tree, imported)
	if len(plugins) == 0 {
		return
	}
	mine, ok := c.tree["plugins"].(map[string]any)
	if !ok {
		mine = map[string]any{}
		c.tree["plugins"] = mine
	}
	for k, v := range plugins {
		mine[k] = v
	}
}

func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				deepMerge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// criPath is the dotted path of the CRI plugin's containerd table.
func (c containerdConfig) criPath() []string {
	switch c.version {
	case 1:
		return []string{"plugins", "cri", "containerd"}
	case 2:
		return []string{"plugins", "io.containerd.grpc.v1.cri", "containerd"}
	}
	return []string{"plugins", "io.containerd.cri.v1.runtime", "containerd"}
}

// prelude starts a file that had nothing: containerd 1.6 reads a config
// without a version as version 1, so crhook writes version 2 for it.
func (c containerdConfig) prelude() string {
	if c.empty {
		return "version = 2\n\n"
	}
	return ""
}

// nodeRuntime is the runtime table crhook's entry copies: the default
// runtime when it is runc (io.containerd.runc.v2), else the one named
// runc; nil when the node relies on containerd's built-in default.
func (c containerdConfig) nodeRuntime() map[string]any {
	cri := lookupTable(c.tree, c.criPath())
	runtimes, _ := cri["runtimes"].(map[string]any)
	name, _ := cri["default_runtime_name"].(string)
	for _, candidate := range []string{name, "runc"} {
		rt, ok := runtimes[candidate].(map[string]any)
		if !ok {
			continue
		}
		if typ, _ := rt["runtime_type"].(string); typ == "" || typ == runcV2 {
			return rt
		}
	}
	return nil
}

const runcV2 = "io.containerd.runc.v2"

// nodeBinary is the BinaryName of the node's runc runtime, if it names one.
func (c containerdConfig) nodeBinary() string {
	options, _ := c.nodeRuntime()["options"].(map[string]any)
	bin, _ := options["BinaryName"].(string)
	return bin
}

// runtimeTable is crhook's runtime entry as TOML: the node's runc
// runtime, with crhook-runtime as its binary and the opt-in annotations
// let through.
func (c containerdConfig) runtimeTable(runtimePath string) (string, error) {
	entry := deepCopy(c.nodeRuntime())
	entry["runtime_type"] = runcV2
	annotations := []string{spec.AnnotationPrefix + "*"}
	for _, key := range []string{"pod_annotations", "container_annotations"} {
		entry[key] = union(stringList(entry[key]), annotations)
	}
	options, _ := entry["options"].(map[string]any)
	if options == nil {
		options = map[string]any{}
	}
	options["BinaryName"] = runtimePath
	entry["options"] = options
	var b strings.Builder
	if err := writeTable(&b, append(c.criPath(), "runtimes", RuntimeName), entry); err != nil {
		return "", err
	}
	return b.String(), nil
}

// imports reports whether one of the main file's import patterns
// already names file.
func (c containerdConfig) imports(file string) bool {
	return slices.ContainsFunc(c.importPatterns, func(p string) bool {
		ok, err := filepath.Match(p, file)
		return err == nil && ok
	})
}

// importsLine is compiled on first use: every crhook command would pay
// for it at start.
var importsLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^imports\s*=\s*\[`) })

// withCrhookImport lists file in the main file's imports: first in an
// existing top-level imports array, or on a marked line of its own at
// the top.
func withCrhookImport(main []byte, file string) []byte {
	entry := fmt.Sprintf("%q", file)
	if loc := importsLine().FindIndex(main); loc != nil {
		sep := ", "
		if rest := bytes.TrimLeft(main[loc[1]:], " \t\r\n"); len(rest) > 0 && rest[0] == ']' {
			sep = ""
		}
		return slices.Concat(main[:loc[1]], []byte(entry+sep), main[loc[1]:])
	}
	return slices.Concat([]byte("imports = ["+entry+"]"+importsMarker+"\n"), main)
}

// withoutCrhookImport undoes withCrhookImport.
func withoutCrhookImport(main []byte, file string) []byte {
	entry := fmt.Sprintf("%q", file)
	if line := []byte("imports = [" + entry + "]" + importsMarker + "\n"); bytes.HasPrefix(main, line) {
		return main[len(line):]
	}
	if loc := importsLine().FindIndex(main); loc != nil {
		for _, form := range []string{entry + ", ", entry} {
			if bytes.HasPrefix(main[loc[1]:], []byte(form)) {
				return slices.Concat(main[:loc[1]], main[loc[1]+len(form):])
			}
		}
	}
	return main
}

func appendBlock(base []byte, block string) []byte {
	var b bytes.Buffer
	b.Write(base)
	if len(base) > 0 && !bytes.HasSuffix(base, []byte("\n")) {
		b.WriteByte('\n')
	}
	if len(base) > 0 {
		b.WriteByte('\n')
	}
	b.WriteString(blockBegin + "\n" + block + blockEnd + "\n")
	return b.Bytes()
}

// removeBlock cuts crhook's block (and the blank line before it) out.
func removeBlock(data []byte) []byte {
	text := string(data)
	start := strings.Index(text, blockBegin)
	if start < 0 {
		return data
	}
	end := strings.Index(text[start:], blockEnd)
	if end < 0 {
		return data
	}
	end += start + len(blockEnd)
	if end < len(text) && text[end] == '\n' {
		end++
	}
	before := strings.TrimSuffix(text[:start], "\n")
	return []byte(before + text[end:])
}

// checkContainerdConfig parses the result: a table the admin already
// defined elsewhere would make containerd refuse the whole file.
func checkContainerdConfig(data []byte) error {
	var v map[string]any
	if err := toml.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("with crhook's runtime entry the config does not parse (is a %q runtime already defined?): %w", RuntimeName, err)
	}
	return nil
}
