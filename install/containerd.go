package install

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"

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

// Containerd returns the plan for containerd: a runtime entry "crhook"
// for the CRI plugin whose runc binary is crhook-runtime, passing the
// opt-in annotations from pods and containers to the spec.
func Containerd(o Options, uninstall bool) (Plan, error) {
	path := orDefault(o.EngineConfig, DefaultContainerdConfig)
	p := Plan{Engine: "containerd"}
	current, err := o.engineFile(path, uninstall)
	if err != nil {
		return p, err
	}
	base := removeBlock(current)
	next := base
	why := "remove the " + RuntimeName + " runtime"
	if !uninstall {
		block, err := containerdBlock(base, o.runtimeEntry())
		if err != nil {
			return p, fmt.Errorf("%s: %w", path, err)
		}
		next = appendBlock(base, block)
		if err := checkContainerdConfig(next); err != nil {
			return p, fmt.Errorf("%s: %w", path, err)
		}
		why = "add the " + RuntimeName + " runtime (RuntimeClass handler " + RuntimeName + ")"
	}
	if uninstall && len(bytes.TrimSpace(next)) == 0 && len(current) > 0 {
		next = nil // the file held only crhook's block
	}
	p.Changes = []Change{{Path: o.onHost(path), Content: next, Mode: 0o644, Why: why}}
	p.Next = []string{"restart containerd; Kubernetes pods select it with runtimeClassName: " + RuntimeName}
	return p, nil
}

// containerdBlock is the runtime entry for the config's schema version:
// 1 (plugins.cri), 2 (io.containerd.grpc.v1.cri, containerd 1.x) or 3
// (io.containerd.cri.v1.runtime, containerd 2.x).
func containerdBlock(current []byte, runtimePath string) (string, error) {
	var head struct {
		Version int `toml:"version"`
	}
	if _, err := toml.Decode(string(current), &head); err != nil {
		return "", fmt.Errorf("parse: %w", err)
	}
	var plugin string
	var prelude string
	switch head.Version {
	case 0, 1:
		plugin = "cri"
		if len(bytes.TrimSpace(current)) == 0 {
			prelude, plugin = "version = 2\n\n", `"io.containerd.grpc.v1.cri"`
		}
	case 2:
		plugin = `"io.containerd.grpc.v1.cri"`
	case 3:
		plugin = `"io.containerd.cri.v1.runtime"`
	default:
		return "", fmt.Errorf("config version %d is not one crhook knows (1, 2 or 3)", head.Version)
	}
	table := "plugins." + plugin + ".containerd.runtimes." + RuntimeName
	annotations := fmt.Sprintf("[%q]", spec.AnnotationPrefix+"*")
	var b strings.Builder
	fmt.Fprintf(&b, "%s[%s]\n", prelude, table)
	fmt.Fprintf(&b, "  runtime_type = %q\n", "io.containerd.runc.v2")
	fmt.Fprintf(&b, "  pod_annotations = %s\n", annotations)
	fmt.Fprintf(&b, "  container_annotations = %s\n", annotations)
	fmt.Fprintf(&b, "[%s.options]\n", table)
	fmt.Fprintf(&b, "  BinaryName = %q\n", runtimePath)
	return b.String(), nil
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
	if _, err := toml.Decode(string(data), &v); err != nil {
		return fmt.Errorf("with crhook's runtime entry the config does not parse (is a %q runtime already defined?): %w", RuntimeName, err)
	}
	return nil
}
