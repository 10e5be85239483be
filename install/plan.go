package install

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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
	// Whole says crhook writes the whole file (a drop-in, a hooks.d
	// entry), rather than its part of an engine's file.
	Whole bool
	// restoreOwner, when set, gives the file exactly Mode and this
	// owner and group: uninstall putting a file back as it was.
	restoreOwner *[2]int
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
	// Uninstall says the plan takes crhook out.
	Uninstall bool
	// Record is the install record (see record), as this process reaches
	// it (under Root).
	Record string
	// undo plans crhook's removal from the files as they are: what an
	// install records as each file's content without crhook.
	undo func() (Plan, error)
}

// plan starts the plan for engine, which planner makes.
func (o Options) plan(engine string, uninstall bool, planner func(Options, bool) (Plan, error)) Plan {
	p := Plan{Engine: engine, Root: o.HostRoot, Uninstall: uninstall, Record: o.onHost(orDefault(o.Record, DefaultRecord))}
	if !uninstall {
		p.undo = func() (Plan, error) { return planner(o, true) }
	}
	return p
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

// readExisting reads an engine file, at path under the root d, at most
// limit bytes; a missing file reads as nil.
func readExisting(d *atomicfile.Dir, path string, limit int64) ([]byte, error) {
	data, err := d.ReadFile(path, limit)
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
func (p Plan) pending(d *atomicfile.Dir, changes []Change) ([]Change, error) {
	var out []Change
	for _, c := range changes {
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
		current, err := readExisting(d, path, maxConfigSize)
		if err != nil {
			return nil, err
		}
		same, err := sameFile(d, path, current, c)
		if err != nil {
			return nil, err
		}
		if !same {
			out = append(out, c)
		}
	}
	return out, nil
}

// sameFile reports whether the file at path, holding current, is already
// what c makes of it.
func sameFile(d *atomicfile.Dir, path string, current []byte, c Change) (bool, error) {
	switch {
	case c.Content == nil:
		return current == nil, nil
	case current == nil || !bytes.Equal(current, c.Content):
		return false, nil
	case c.Program:
		return d.IsRootFile(path, c.Mode), nil
	case c.restoreOwner != nil:
		mode, uid, gid, _, err := d.Stat(path)
		return mode == c.Mode && uid == c.restoreOwner[0] && gid == c.restoreOwner[1], err
	}
	return true, nil
}

// resolve decides the changes to make, under the root d, and the record
// to keep. An install records, for each engine file it writes, what the
// file held before crhook first changed it. An uninstall puts that back,
// bytes, mode and owner, where the file still holds exactly what install
// wrote, and removes a file that did not exist; where the admin changed
// it since, only crhook's part comes out.
func (p Plan) resolve(d *atomicfile.Dir) ([]Change, record, error) {
	recordPath, err := inRoot(p.Root, p.Record)
	if err != nil {
		return nil, record{}, err
	}
	rec, err := readRecord(d, recordPath)
	if err != nil {
		return nil, rec, err
	}
	changes := slices.Clone(p.Changes)
	var undo map[string]Change
	for i, c := range changes {
		if c.Symlink != "" || c.Program || (!p.Uninstall && c.Content == nil) {
			continue
		}
		path, err := inRoot(p.Root, c.Path)
		if err != nil {
			return nil, rec, err
		}
		current, err := readExisting(d, path, maxConfigSize)
		if err != nil {
			return nil, rec, err
		}
		fr, known := rec.Files[path]
		unchanged := known && digest(current) == fr.Installed
		if p.Uninstall {
			if unchanged {
				changes[i] = fr.restore(c)
			}
			if known {
				delete(rec.Files, path)
				rec.dropped = true
			}
			continue
		}
		if !unchanged {
			if undo == nil {
				if undo, err = p.undoChanges(); err != nil {
					return nil, rec, err
				}
			}
			without := current
			if u, ok := undo[c.Path]; ok {
				without = u.Content
			}
			if fr, err = before(d, path, current, without, c.Whole); err != nil {
				return nil, rec, err
			}
		}
		fr.Installed = digest(c.Content)
		rec.Files[path] = fr
	}
	changes, err = p.pending(d, changes)
	return changes, rec, err
}

// undoChanges are the changes uninstall would make now, by path.
func (p Plan) undoChanges() (map[string]Change, error) {
	byPath := map[string]Change{}
	if p.undo == nil {
		return byPath, nil
	}
	undo, err := p.undo()
	if err != nil {
		return nil, fmt.Errorf("plan what uninstall would give back: %w", err)
	}
	for _, c := range undo.Changes {
		byPath[c.Path] = c
	}
	return byPath, nil
}

// changesOrSay resolves the changes, saying so on w when there are none.
func (p Plan) changesOrSay(d *atomicfile.Dir, w io.Writer) ([]Change, record, error) {
	changes, rec, err := p.resolve(d)
	if err == nil && len(changes) == 0 {
		fmt.Fprintf(w, "crhook %s: nothing to change\n", p.Engine)
	}
	return changes, rec, err
}

// Apply writes the plan. Each file is replaced atomically, keeping the
// mode and owner of an existing file; the root is locked meanwhile, so
// two installs do not interleave. An install saves the record before it
// changes any engine file, and an uninstall after, so a run cut short
// never leaves a file the record cannot give back.
func (p Plan) Apply(w io.Writer) error {
	d, err := openRoot(p.Root)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Lock(); err != nil {
		return err
	}
	recordPath, err := inRoot(p.Root, p.Record)
	if err != nil {
		return err
	}
	changes, rec, err := p.changesOrSay(d, w)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		if p.Uninstall && rec.dropped {
			return rec.write(d, recordPath) // files someone else already took back
		}
		return nil
	}
	if !p.Uninstall {
		if err := rec.write(d, recordPath); err != nil {
			return err
		}
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
		case c.restoreOwner != nil:
			verb = "gave back"
		}
		fmt.Fprintf(w, "crhook %s: %s %s (%s)\n", p.Engine, verb, c.Path, c.Why)
	}
	if p.Uninstall {
		if err := rec.write(d, recordPath); err != nil {
			return err
		}
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
	case c.restoreOwner != nil:
		return d.WriteFileAs(path, c.Content, c.Mode, c.restoreOwner[0], c.restoreOwner[1])
	}
	return d.WriteFile(path, c.Content, c.Mode)
}

// DryRun prints what Apply would do, with each new file's content.
func (p Plan) DryRun(w io.Writer) error {
	d, err := openRoot(p.Root)
	if err != nil {
		return err
	}
	defer d.Close()
	changes, _, err := p.changesOrSay(d, w)
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
