package install

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/crhook/crhook/internal/atomicfile"
)

// Change is one file crhook writes or removes.
type Change struct {
	Path string
	// Content is the whole new file; nil removes the file unless Symlink
	// is set.
	Content []byte
	// Symlink, when set, makes Path a symbolic link to it.
	Symlink string
	Mode    os.FileMode
	// Program marks a binary that every container start runs as root: it
	// is written as a new file owned by root:root with exactly Mode, in a
	// directory only root can change, whatever stood at Path before.
	Program bool
	// Why says what the change is for, shown by --dry-run.
	Why string
}

// Plan is the changes for one engine, plus what the admin must do next.
type Plan struct {
	Engine  string
	Changes []Change
	// Next is printed after applying, e.g. "restart containerd".
	Next []string
	// Root is where the host's / is (Options.HostRoot), "" for /. Every
	// file is reached through it with openat2 RESOLVE_IN_ROOT, so a link
	// on the host, absolute ones too, cannot lead out of it.
	Root string
}

// openRoot opens the plan's root directory.
func openRoot(root string) (*atomicfile.Dir, error) {
	d, err := atomicfile.OpenRoot(orDefault(root, "/"))
	if err != nil {
		return nil, fmt.Errorf("open host root: %w", err)
	}
	return d, nil
}

// inRoot is path, which the plan names as this process reaches it (under
// Root), as a path inside the root.
func inRoot(root, path string) (string, error) {
	rel, err := filepath.Rel(orDefault(root, "/"), path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s is not under the host root %s", path, root)
	}
	return "/" + rel, nil
}

// maxConfigSize bounds an engine config crhook reads.
const maxConfigSize = 16 << 20

// readExisting reads an engine file, at path under the root d; a missing
// file reads as nil.
func readExisting(d *atomicfile.Dir, path string) ([]byte, error) {
	data, err := d.ReadFile(path, maxConfigSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// pending drops changes that would leave a file as it is, so a second
// install or uninstall writes nothing.
func (p Plan) pending() ([]Change, error) {
	d, err := openRoot(p.Root)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var out []Change
	for _, c := range p.Changes {
		path, err := inRoot(p.Root, c.Path)
		if err != nil {
			return nil, err
		}
		if c.Symlink != "" {
			if target, err := d.Readlink(path); err != nil || target != c.Symlink {
				out = append(out, c)
			}
			continue
		}
		current, err := readExisting(d, path)
		if err != nil {
			return nil, err
		}
		if c.Content == nil && current == nil {
			continue
		}
		if c.Content != nil && bytes.Equal(current, c.Content) && (!c.Program || d.IsRootFile(path, c.Mode)) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// pendingOrSay returns the pending changes, saying so on w when there
// are none.
func (p Plan) pendingOrSay(w io.Writer) ([]Change, error) {
	changes, err := p.pending()
	if err == nil && len(changes) == 0 {
		fmt.Fprintf(w, "crhook %s: nothing to change\n", p.Engine)
	}
	return changes, err
}

// Apply writes the plan. Each file is replaced atomically, keeping the
// mode and owner of an existing file; the root is locked meanwhile, so
// two installs do not interleave.
func (p Plan) Apply(w io.Writer) error {
	changes, err := p.pendingOrSay(w)
	if err != nil || len(changes) == 0 {
		return err
	}
	d, err := openRoot(p.Root)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Lock(); err != nil {
		return err
	}
	for _, c := range changes {
		path, err := inRoot(p.Root, c.Path)
		if err != nil {
			return err
		}
		if err := applyChange(d, path, c); err != nil {
			return err
		}
		verb := "wrote"
		switch {
		case c.Symlink != "":
			verb = "linked"
		case c.Content == nil:
			verb = "removed"
		}
		fmt.Fprintf(w, "crhook %s: %s %s (%s)\n", p.Engine, verb, c.Path, c.Why)
	}
	for _, n := range p.Next {
		fmt.Fprintf(w, "crhook %s: next, %s\n", p.Engine, n)
	}
	return nil
}

// applyChange makes one change to path under the root d.
func applyChange(d *atomicfile.Dir, path string, c Change) error {
	if c.Content == nil && c.Symlink == "" {
		return d.Remove(path)
	}
	if err := d.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	switch {
	case c.Symlink != "":
		return d.Symlink(c.Symlink, path)
	case c.Program:
		return d.WriteRootFile(path, c.Content, c.Mode)
	}
	return d.WriteFile(path, c.Content, c.Mode)
}

// DryRun prints what Apply would do, with each new file's content.
func (p Plan) DryRun(w io.Writer) error {
	changes, err := p.pendingOrSay(w)
	if err != nil || len(changes) == 0 {
		return err
	}
	for _, c := range changes {
		switch {
		case c.Symlink != "":
			fmt.Fprintf(w, "would link %s -> %s (%s)\n", c.Path, c.Symlink, c.Why)
			continue
		case c.Content == nil:
			fmt.Fprintf(w, "would remove %s (%s)\n", c.Path, c.Why)
			continue
		}
		if c.Program {
			fmt.Fprintf(w, "would install %s (%s, root:root, mode %04o, %d bytes)\n", c.Path, c.Why, c.Mode.Perm(), len(c.Content))
			continue
		}
		fmt.Fprintf(w, "would write %s (%s, mode %04o):\n%s", c.Path, c.Why, c.Mode.Perm(), c.Content)
		if !bytes.HasSuffix(c.Content, []byte("\n")) {
			fmt.Fprintln(w)
		}
	}
	for _, n := range p.Next {
		fmt.Fprintf(w, "then: %s\n", n)
	}
	return nil
}
