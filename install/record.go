package install

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crhook/crhook/internal/atomicfile"
)

// DefaultRecord is where install keeps what each engine file held before
// crhook first changed it (under --host-root). It holds copies of engine
// configs, which may carry secrets, so it is root's alone (0600).
const DefaultRecord = "/var/lib/crhook/install-record.json"

// maxRecordSize bounds the record: a few engine files, each at most
// maxConfigSize.
const maxRecordSize = 8 * maxConfigSize

// record is what install keeps so that uninstall gives back exactly
// what was there. An engine file's merge can be undone byte for byte,
// but not every question has its answer in the file: whether it existed
// before crhook wrote it, or whether an empty "runtimes" object was the
// admin's, or whose a hooks.d file of crhook's name was.
type record struct {
	Version int                   `json:"version"`
	Files   map[string]fileRecord `json:"files"`
	// dropped says an uninstall took files out of the record.
	dropped bool
}

// fileRecord is one engine file before crhook first changed it.
type fileRecord struct {
	Existed bool `json:"existed"`
	// Original is its content with any part of an earlier crhook taken
	// out; Mode, UID and GID are its own.
	Original []byte `json:"original,omitempty"`
	Mode     uint32 `json:"mode,omitempty"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	// Installed is the SHA-256 of what install last wrote there: while
	// the file still holds exactly that, uninstall puts Original back.
	Installed string `json:"installed"`
}

func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// readRecord reads the record at path under the root d; a missing one
// is empty.
func readRecord(d *atomicfile.Dir, path string) (record, error) {
	rec := record{Version: 1, Files: map[string]fileRecord{}}
	data, err := readExisting(d, path, maxRecordSize)
	if err != nil || data == nil {
		return rec, err
	}
	if err := json.Unmarshal(data, &rec); err != nil || rec.Version != 1 {
		return rec, fmt.Errorf("install record %s is damaged (%v); move it away to install or uninstall without it", path, err)
	}
	if rec.Files == nil {
		rec.Files = map[string]fileRecord{}
	}
	return rec, nil
}

// write saves the record, or removes it when it holds no file.
func (r record) write(d *atomicfile.Dir, path string) error {
	if len(r.Files) == 0 {
		return d.Remove(path)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode install record: %w", err)
	}
	if err := d.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return d.WriteFileAs(path, append(data, '\n'), 0o600, 0, 0)
}

// before makes the record of the file at path as it is now, current,
// whose content without crhook is without (nil when uninstall would
// remove it). A file crhook writes whole (whole) did not exist before if
// it is crhook's own from an earlier install; one of crhook's name that
// is not crhook's is the admin's, and is given back.
func before(d *atomicfile.Dir, path string, current, without []byte, whole bool) (fileRecord, error) {
	if whole && current != nil && !ownFile(current) {
		without = current
	}
	mode, uid, gid, ok, err := d.Stat(path)
	if err != nil || !ok || without == nil {
		return fileRecord{}, err
	}
	return fileRecord{Existed: true, Original: without, Mode: uint32(mode), UID: uid, GID: gid}, nil
}

// ownFile reports whether data is a file crhook writes whole: a drop-in
// that opens with crhook's marker, or a hooks.d entry that runs crhook.
func ownFile(data []byte) bool {
	if bytes.HasPrefix(data, []byte(ownFileMarker)) {
		return true
	}
	var h hookFile
	return json.Unmarshal(data, &h) == nil && len(h.Hook.Args) > 0 &&
		(h.Hook.Args[0] == "crhook-hook" || h.Hook.Args[0] == "crhook")
}

// ownFileMarker opens every drop-in crhook writes.
const ownFileMarker = "# Managed by `crhook install"

// restore is the change that gives the file back as fr says it was.
func (fr fileRecord) restore(c Change) Change {
	c.Content, c.restoreOwner = nil, nil
	if fr.Existed {
		c.Content = fr.Original
		if c.Content == nil {
			c.Content = []byte{}
		}
		c.Mode = os.FileMode(fr.Mode)
		c.restoreOwner = &[2]int{fr.UID, fr.GID}
	}
	return c
}
