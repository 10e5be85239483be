package install

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/crhook/crhook/internal/atomicfile"
	"github.com/crhook/crhook/internal/boundedio"
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
	// Why says what the change is for, shown by --dry-run.
	Why string
}

// Plan is the changes for one engine, plus what the admin must do next.
type Plan struct {
	Engine  string
	Changes []Change
	// Next is printed after applying, e.g. "restart containerd".
	Next []string
}

// maxConfigSize bounds an engine config crhook reads.
const maxConfigSize = 16 << 20

// readExisting reads an engine file; a missing file reads as nil.
func readExisting(path string) ([]byte, error) {
	data, err := boundedio.ReadFile(path, maxConfigSize)
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
	var out []Change
	for _, c := range p.Changes {
		if c.Symlink != "" {
			if target, err := os.Readlink(c.Path); err != nil || target != c.Symlink {
				out = append(out, c)
			}
			continue
		}
		current, err := readExisting(c.Path)
		if err != nil {
			return nil, err
		}
		if c.Content == nil && current == nil {
			continue
		}
		if c.Content != nil && bytes.Equal(current, c.Content) {
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
// mode and owner of an existing file.
func (p Plan) Apply(w io.Writer) error {
	changes, err := p.pendingOrSay(w)
	if err != nil || len(changes) == 0 {
		return err
	}
	for _, c := range changes {
		if err := applyChange(c); err != nil {
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

func applyChange(c Change) error {
	if c.Content == nil && c.Symlink == "" {
		if err := os.Remove(c.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", c.Path, err)
		}
		return nil
	}
	dir := filepath.Dir(c.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if c.Symlink != "" {
		return atomicfile.Symlink(c.Symlink, c.Path)
	}
	unlock, err := atomicfile.LockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	return atomicfile.WriteFile(c.Path, c.Content, c.Mode)
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
