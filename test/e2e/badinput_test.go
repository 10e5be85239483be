package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/spec"
)

// Hostile and broken input, for every command: crhook must exit 2 (bad
// input) or 1 (refused), print exactly one line on stderr, leave every
// file alone and answer quickly; where the input is in fact fine (a
// capability name crhook does not know), it must exit 0 and keep it.

// badInputMaxTime is how long any refusal may take. A FIFO or a stdin
// that stays open must not hold a command anywhere near this.
const badInputMaxTime = 10 * time.Second

// badInputMaxLine bounds the stderr line: crhook cuts user-supplied
// values short, so 1 MB annotations cannot flood it.
const badInputMaxLine = 4096

// badCall is one crhook run.
type badCall struct {
	args  []string
	stdin io.Reader // nil: empty
	dir   string    // working directory; "" inherits
	env   []string
	// watch is a directory whose every file must be exactly the same
	// after the run ("" when there is nothing to watch).
	watch string
	// logPath is the log file of the config the run uses, if any.
	logPath string
}

// badCase is one row: how to set up the run and what must come out.
type badCase struct {
	name     string
	setup    func(t *testing.T) badCall
	wantCode int
	// wantErr is a piece of the one stderr line; unused when wantCode is 0.
	wantErr string
	// check makes further assertions on a run.
	check func(t *testing.T, c badCall, r result)
}

func TestBadInput(t *testing.T) {
	requireRoot(t)
	var cases []badCase
	for _, stage := range []string{"precreate", "createRuntime", "prestart", "poststart"} {
		cases = append(cases, stdinCases(stage)...)
		cases = append(cases, configCases(stage, nil)...)
	}
	for _, stage := range []string{"createRuntime", "prestart"} {
		cases = append(cases, createRuntimeCases(stage)...)
	}
	cases = append(cases, precreateCases()...)
	cases = append(cases, poststartCases()...)
	cases = append(cases, patchCases()...)
	cases = append(cases, configCases("patch", []string{"--bundle"})...)
	cases = append(cases, verifyCases()...)
	cases = append(cases, usageCases()...)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.setup(t)
			var before map[string]string
			if c.watch != "" {
				before = treeSnapshot(t, c.watch)
			}
			r, took := invokeBad(t, c)
			if took > badInputMaxTime {
				t.Errorf("took %s, more than %s", took.Round(time.Millisecond), badInputMaxTime)
			}
			if r.Code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstderr: %.2000s", r.Code, tc.wantCode, r.Stderr)
			}
			assertStderr(t, r, tc.wantCode, tc.wantErr)
			if c.watch != "" {
				assertSameTree(t, c.watch, before, treeSnapshot(t, c.watch))
			}
			if tc.check != nil {
				tc.check(t, c, r)
			}
		})
	}
}

// assertStderr checks the one-line rule: nothing on success, else one
// non-empty, short line that is crhook's own message, not a crash.
func assertStderr(t *testing.T, r result, code int, wantErr string) {
	t.Helper()
	if code == 0 {
		if r.Stderr != "" {
			t.Errorf("exit 0 with stderr %q", r.Stderr)
		}
		return
	}
	line, ok := strings.CutSuffix(r.Stderr, "\n")
	switch {
	case !ok || strings.Contains(line, "\n"):
		t.Errorf("stderr is not exactly one line: %.2000q", r.Stderr)
	case strings.TrimSpace(line) == "":
		t.Error("stderr line is empty")
	case strings.ContainsFunc(line, func(r rune) bool { return r < ' ' || r == 0x7f }):
		t.Errorf("stderr holds a control character a terminal would act on: %.300q", line)
	case strings.Contains(line, "panic") || strings.Contains(line, "goroutine"):
		t.Errorf("crhook crashed: %.2000s", line)
	case len(line) > badInputMaxLine:
		t.Errorf("stderr line is %d bytes, more than %d: %.300q...", len(line), badInputMaxLine, line)
	case !strings.HasPrefix(line, "crhook"):
		t.Errorf("stderr line does not name crhook: %q", line)
	case !strings.Contains(line, wantErr):
		t.Errorf("stderr %q does not say %q", line, wantErr)
	}
}

// invokeBad runs crhook with c under a generous deadline and reports how
// long it took. CRHOOK_CONFIG is cleared so the host's setting cannot
// leak in; c.env may set it again.
func invokeBad(t *testing.T, c badCall) (result, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, crhookBin, c.args...)
	cmd.Dir = c.dir
	cmd.Env = append(append(os.Environ(), "CRHOOK_CONFIG="), c.env...)
	cmd.Stdin = c.stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("crhook %s hung: killed after %s", strings.Join(c.args, " "), took.Round(time.Second))
	case errors.As(err, &exitErr):
		r.Code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("crhook %s: %v", strings.Join(c.args, " "), err)
	}
	return r, took
}

// treeSnapshot describes every entry under dir without following links
// or opening anything but regular files (a FIFO must not block it).
func treeSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			desc += fmt.Sprintf(" %d:%d ino %d", st.Uid, st.Gid, st.Ino)
		}
		switch {
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(data))
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		snap[p] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return snap
}

func assertSameTree(t *testing.T, dir string, before, after map[string]string) {
	t.Helper()
	for p, desc := range after {
		if was, ok := before[p]; !ok {
			t.Errorf("%s appeared: %s", p, desc)
		} else if was != desc {
			t.Errorf("%s changed: %s, was %s", p, desc, was)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s disappeared", p)
		}
	}
}

// badConfig writes an admin config that logs into the test's directory.
func badConfig(t *testing.T, extra string) (configPath, logPath string) {
	t.Helper()
	return writeConfig(t, extra)
}

// badState is a container state as a runtime passes it to hooks.
func badState(t *testing.T, pid int, bundle string, annotations map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(specs.State{
		Version: specs.Version, ID: "crhook-bad-input", Status: specs.StateCreating,
		Pid: pid, Bundle: bundle, Annotations: annotations,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// optedIn are the annotations of a container that opted in.
func optedIn(profile string) map[string]string {
	a := map[string]string{spec.AnnotationRestore: "true"}
	if profile != "" {
		a[spec.AnnotationProfile] = profile
	}
	return a
}

// badSpec is runc's default spec (which keeps /proc/sys read-only) as a
// uid 1000 container with annotations, changed by edit.
func badSpec(t *testing.T, annotations map[string]string, edit func(*specs.Spec)) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "spec", "testdata", "runc-spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	s.Process.NoNewPrivileges = true
	s.Annotations = annotations
	if edit != nil {
		edit(&s)
	}
	out, err := json.MarshalIndent(&s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// badBundle makes a bundle directory holding config (no rootfs: no
// command here starts a container).
func badBundle(t *testing.T, config []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// brokenBundle is a bundle path that cannot be read, and the directory
// to watch around it.
type brokenBundle struct {
	name    string
	make    func(t *testing.T) (bundle, watch string)
	wantErr string
}

// brokenBundles are every broken bundle: its directory, then its
// config.json.
func brokenBundles() []brokenBundle {
	return slices.Concat(brokenBundleDirs(), brokenConfigJSONs())
}

// brokenBundleDirs are bundle paths that are not a directory crhook can open.
func brokenBundleDirs() []brokenBundle {
	return []brokenBundle{
		{name: "bundle is missing", wantErr: "no such file or directory", make: func(t *testing.T) (string, string) {
			dir := t.TempDir()
			return filepath.Join(dir, "gone"), dir
		}},
		{name: "bundle is a symlink loop", wantErr: "too many levels of symbolic links", make: func(t *testing.T) (string, string) {
			dir := t.TempDir()
			loop := filepath.Join(dir, "loop")
			mustDo(t, os.Symlink("loop", loop))
			return loop, dir
		}},
		{name: "bundle is a FIFO", wantErr: "not a directory", make: func(t *testing.T) (string, string) {
			dir := t.TempDir()
			fifo := filepath.Join(dir, "fifo")
			mustDo(t, syscall.Mkfifo(fifo, 0o644))
			return fifo, dir
		}},
	}
}

// brokenConfigJSONs are bundles whose config.json is not a regular file,
// leads outside the bundle or is too large to read.
func brokenConfigJSONs() []brokenBundle {
	return []brokenBundle{
		{name: "config.json is a directory", wantErr: "not a regular file (a directory)", make: func(t *testing.T) (string, string) {
			dir := t.TempDir()
			mustDo(t, os.Mkdir(filepath.Join(dir, "config.json"), 0o755))
			return dir, dir
		}},
		{name: "config.json is a FIFO", wantErr: "not a regular file (a FIFO)", make: func(t *testing.T) (string, string) {
			dir := t.TempDir()
			mustDo(t, syscall.Mkfifo(filepath.Join(dir, "config.json"), 0o644))
			return dir, dir
		}},
		{name: "config.json links to /dev/zero", wantErr: "config.json leads outside the bundle", make: func(t *testing.T) (string, string) {
			dir := t.TempDir()
			mustDo(t, os.Symlink("/dev/zero", filepath.Join(dir, "config.json")))
			return dir, dir
		}},
		{name: "config.json links to a spec outside the bundle", wantErr: "config.json leads outside the bundle", make: func(t *testing.T) (string, string) {
			dir, outside := t.TempDir(), t.TempDir()
			mustDo(t, os.WriteFile(filepath.Join(outside, "config.json"), []byte(`{"process":{"user":{"uid":1000}},"annotations":{"io.crhook.restore":"true"}}`), 0o644))
			mustDo(t, os.Symlink(filepath.Join(outside, "config.json"), filepath.Join(dir, "config.json")))
			return dir, outside
		}},
		{name: "config.json reaches out with ..", wantErr: "config.json leads outside the bundle", make: func(t *testing.T) (string, string) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "bundle")
			mustDo(t, os.Mkdir(dir, 0o755))
			mustDo(t, os.WriteFile(filepath.Join(parent, "real.json"), []byte(`{"annotations":{"io.crhook.restore":"true"}}`), 0o644))
			mustDo(t, os.Symlink("../real.json", filepath.Join(dir, "config.json")))
			return dir, parent
		}},
		{name: "config.json is a symlink loop", wantErr: "too many levels of symbolic links", make: func(t *testing.T) (string, string) {
			dir := t.TempDir()
			mustDo(t, os.Symlink("config.json", filepath.Join(dir, "config.json")))
			return dir, dir
		}},
		{name: "config.json is over the size limit", wantErr: "input too large", make: func(t *testing.T) (string, string) {
			dir := t.TempDir()
			f, err := os.Create(filepath.Join(dir, "config.json"))
			mustDo(t, err)
			mustDo(t, f.Truncate(100<<20)) // sparse: no 100 MB on disk
			mustDo(t, f.Close())
			return dir, dir
		}},
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// endlessReader yields prefix, then the byte fill forever: a huge stdin
// that costs no memory to produce.
type endlessReader struct {
	prefix []byte
	fill   byte
}

func (r *endlessReader) Read(p []byte) (int, error) {
	n := copy(p, r.prefix)
	r.prefix = r.prefix[n:]
	for i := n; i < len(p); i++ {
		p[i] = r.fill
	}
	return len(p), nil
}

// hugeStdin is 100 MB of what starts as a JSON object.
func hugeStdin() io.Reader {
	return io.LimitReader(&endlessReader{prefix: []byte(`{"id":"x","annotations":{"io.crhook.restore":"`), fill: 'x'}, 100<<20)
}

// stdinCall is a setup that runs stage with a fresh config and what
// stdin gives on its stdin (nil: empty).
func stdinCall(stage string, stdin func(t *testing.T) io.Reader) func(t *testing.T) badCall {
	return func(t *testing.T) badCall {
		configPath, logPath := badConfig(t, "")
		var r io.Reader
		if stdin != nil {
			r = stdin(t)
		}
		return badCall{args: []string{stage, "--config", configPath}, stdin: r, logPath: logPath}
	}
}

// assertNoStdout: a precreate that refuses its input must not hand
// anything on to the runtime.
func assertNoStdout(t *testing.T, _ badCall, r result) {
	t.Helper()
	if r.Stdout != "" {
		t.Errorf("refused input but wrote %d bytes to stdout", len(r.Stdout))
	}
}

// stdinCases feed broken stdin to a stage that reads a spec (precreate)
// or a state (the runtime hooks).
func stdinCases(stage string) []badCase {
	withStdin := func(stdin func(t *testing.T) io.Reader) func(t *testing.T) badCall {
		return stdinCall(stage, stdin)
	}
	text := func(s string) func(t *testing.T) io.Reader {
		return func(*testing.T) io.Reader { return strings.NewReader(s) }
	}
	wrongTypes := `{"id":"x","pid":"4242","bundle":"/b"}`
	if stage == "precreate" {
		wrongTypes = `{"process":{"user":{"uid":"root"}},"annotations":{"io.crhook.restore":"true"}}`
	}
	dupCase := `{"id":"x","ID":"y","pid":1}`
	dupHuge := `{"` + strings.Repeat("k", 1<<20) + `":1,"` + strings.Repeat("k", 1<<20) + `":2}`
	rows := []badCase{
		{name: "empty stdin", setup: withStdin(nil), wantCode: 2, wantErr: "input is empty"},
		{name: "whitespace only", setup: withStdin(text(" \n\t\r\n")), wantCode: 2, wantErr: "input is empty"},
		{name: "not JSON", setup: withStdin(text("runc create --bundle /x")), wantCode: 2, wantErr: "not a JSON object"},
		{name: "binary junk", setup: withStdin(text("\x00\xff\xfe\x1b[2J")), wantCode: 2, wantErr: "not a JSON object"},
		{name: "JSON with a byte-order mark", setup: withStdin(text("\xef\xbb\xbf{}")), wantCode: 2, wantErr: "not a JSON object"},
		{name: "truncated JSON", setup: withStdin(text(`{"ociVersion":"1.0.2","id":"c","status":"creat`)), wantCode: 2, wantErr: "unexpected end of JSON input"},
		{name: "JSON array", setup: withStdin(text(`[{"id":"x"}]`)), wantCode: 2, wantErr: "not a JSON object"},
		{name: "JSON string", setup: withStdin(text(`"{\"id\":\"x\"}"`)), wantCode: 2, wantErr: "not a JSON object"},
		{name: "wrong types", setup: withStdin(text(wrongTypes)), wantCode: 2, wantErr: "cannot unmarshal"},
		{name: "trailing garbage", setup: withStdin(text(`{"id":"x","pid":1} {"id":"y"}`)), wantCode: 2, wantErr: "parse"},
		{name: "duplicate key", setup: withStdin(text(`{"id":"x","pid":1,"annotations":{"io.crhook.restore":"false","io.crhook.restore":"true"}}`)), wantCode: 2, wantErr: "duplicate key"},
		{name: "duplicate key in another case", setup: withStdin(text(dupCase)), wantCode: 2, wantErr: "duplicate key"},
		{name: "1 MB duplicate key", setup: withStdin(text(dupHuge)), wantCode: 2, wantErr: "(1048576 bytes)"},
		{name: "nested too deep", setup: withStdin(text(`{"a":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`)), wantCode: 2, wantErr: "exceeded max depth"},
		{name: "100 MB stdin", setup: withStdin(func(*testing.T) io.Reader { return hugeStdin() }), wantCode: 2, wantErr: "input too large"},
	}
	if stage != "precreate" {
		rows = append(rows,
			badCase{name: "state without id", setup: withStdin(text(`{"pid":1,"bundle":"/b"}`)), wantCode: 2, wantErr: "state has no id"},
			badCase{name: "state id is a number", setup: withStdin(text(`{"id":5}`)), wantCode: 2, wantErr: "cannot unmarshal"},
			badCase{name: "1 MB state id", setup: withStdin(text(`{"id":"` + strings.Repeat("i", 1<<20) + `","pid":1,"bundle":"/b"}`)), wantCode: 2, wantErr: "state id is 1048576 bytes long"},
			badCase{name: "pid overflows int", setup: withStdin(text(`{"id":"x","pid":99999999999999999999}`)), wantCode: 2, wantErr: "cannot unmarshal"},
		)
	}
	// A well-formed spec that never names io.crhook.restore is the
	// runtime's to judge: precreate hands it on byte for byte.
	passThrough := map[string]string{"duplicate key in another case": dupCase, "1 MB duplicate key": dupHuge}
	for i := range rows {
		if stage == "precreate" {
			rows[i].check = assertNoStdout
			if in, ok := passThrough[rows[i].name]; ok {
				rows[i].wantCode = 0
				rows[i].check = func(t *testing.T, _ badCall, r result) {
					if r.Stdout != in {
						t.Errorf("precreate did not pass the spec on byte for byte (%d bytes in, %d out)", len(in), len(r.Stdout))
					}
				}
			}
		}
		rows[i].name = stage + "/" + rows[i].name
	}
	return rows
}

// configCases break the admin config a stage loads before anything else.
// For patch, args before --config come first (it needs a bundle).
func configCases(stage string, patchArgs []string) []badCase {
	type broken struct {
		name    string
		make    func(t *testing.T) (path string, env []string)
		wantErr string
	}
	file := func(text string) func(t *testing.T) (string, []string) {
		return func(t *testing.T) (string, []string) {
			p := filepath.Join(t.TempDir(), "config.toml")
			mustDo(t, os.WriteFile(p, []byte(text), 0o644))
			return p, nil
		}
	}
	configs := []broken{
		{name: "invalid TOML", make: file("timeout = \n"), wantErr: "toml"},
		{name: "unknown key", make: file("default_profile = \"minimal\"\nallow_everything = true\n"), wantErr: "unknown key allow_everything"},
		{name: "wrong type", make: file("open_clone3 = \"yes\"\n"), wantErr: "open_clone3"},
		{name: "unknown profile allowed", make: file("allowed_profiles = [\"minimal\", \"sysadmin\"]\n"), wantErr: "sysadmin"},
		{name: "default profile not allowed", make: file("default_profile = \"checkpoint\"\n"), wantErr: "not in allowed_profiles"},
		{name: "zero timeout", make: file("timeout = \"0s\"\n"), wantErr: "timeout"},
		{name: "named config is missing", make: func(t *testing.T) (string, []string) {
			return filepath.Join(t.TempDir(), "missing.toml"), nil
		}, wantErr: "no such file or directory"},
		{name: "config is a directory", make: func(t *testing.T) (string, []string) {
			return t.TempDir(), nil
		}, wantErr: "not a regular file (a directory)"},
		{name: "config is a FIFO", make: func(t *testing.T) (string, []string) {
			p := filepath.Join(t.TempDir(), "config.toml")
			mustDo(t, syscall.Mkfifo(p, 0o644))
			return p, nil
		}, wantErr: "not a regular file (a FIFO)"},
	}
	if patchArgs != nil {
		// patch is run by an admin and reads $CRHOOK_CONFIG; a hook stage
		// never does (TestHookStagesIgnoreTheEnvConfig).
		configs = append(configs, broken{name: "CRHOOK_CONFIG names a missing file", make: func(t *testing.T) (string, []string) {
			return "", []string{"CRHOOK_CONFIG=" + filepath.Join(t.TempDir(), "missing.toml")}
		}, wantErr: "no such file or directory"})
	}
	var rows []badCase
	for _, cfg := range configs {
		rows = append(rows, badCase{
			name:     stage + "/config " + cfg.name,
			wantCode: 2,
			wantErr:  cfg.wantErr,
			setup: func(t *testing.T) badCall {
				path, env := cfg.make(t)
				c := badCall{args: []string{stage}, env: env}
				if patchArgs != nil {
					c.watch = badBundle(t, badSpec(t, nil, nil))
					c.args = append(c.args, append(slices.Clone(patchArgs), c.watch)...)
				} else {
					c.stdin = bytes.NewReader(badState(t, 1, "/nonexistent", optedIn("")))
				}
				if path != "" {
					c.args = append(c.args, "--config", path)
				}
				return c
			},
		})
	}
	return rows
}

// createRuntimeCases break the bundle an opted-in state points to, or
// its config.json.
func createRuntimeCases(stage string) []badCase {
	rows := slices.Concat(createRuntimeBundleCases(stage), createRuntimeSpecCases(stage))
	for i := range rows {
		rows[i].name = stage + "/" + rows[i].name
	}
	return rows
}

// createRuntimeCall runs stage on an opted-in state whose bundle is
// bundle, watching watch.
func createRuntimeCall(t *testing.T, stage, bundle, watch string) badCall {
	t.Helper()
	configPath, logPath := badConfig(t, "")
	return badCall{
		args:    []string{stage, "--config", configPath},
		stdin:   bytes.NewReader(badState(t, 4242, bundle, optedIn(""))),
		watch:   watch,
		logPath: logPath,
	}
}

// createRuntimeBundleCases: the bundle cannot be read, or its config.json
// does not parse.
func createRuntimeBundleCases(stage string) []badCase {
	run := func(t *testing.T, bundle, watch string) badCall {
		return createRuntimeCall(t, stage, bundle, watch)
	}
	var rows []badCase
	for _, bb := range brokenBundles() {
		rows = append(rows, badCase{name: bb.name, wantCode: 2, wantErr: bb.wantErr, setup: func(t *testing.T) badCall {
			bundle, watch := bb.make(t)
			return run(t, bundle, watch)
		}})
	}
	return append(rows,
		badCase{name: "bundle is relative", wantCode: 2, wantErr: "not an absolute path", setup: func(t *testing.T) badCall {
			dir := t.TempDir()
			c := run(t, "bundle", dir)
			c.dir = dir
			return c
		}},
		badCase{name: "bundle is empty", wantCode: 2, wantErr: "no bundle given", setup: func(t *testing.T) badCall {
			return run(t, "", "")
		}},
		badCase{name: "config.json is not JSON", wantCode: 2, wantErr: "not a JSON object", setup: func(t *testing.T) badCall {
			b := badBundle(t, []byte("not json"))
			return run(t, b, b)
		}},
		badCase{name: "config.json has a duplicate key", wantCode: 2, wantErr: "duplicate key", setup: func(t *testing.T) badCall {
			b := badBundle(t, []byte(`{"process":{"user":{"uid":0}},"annotations":{"io.crhook.restore":"false","io.crhook.restore":"true"}}`))
			return run(t, b, b)
		}},
	)
}

// createRuntimeSpecCases: config.json parses, but what it asks for is
// hostile, not allowed or not adjusted; or it is fine after all.
func createRuntimeSpecCases(stage string) []badCase {
	withSpec := func(annotations map[string]string, edit func(*specs.Spec)) func(t *testing.T) badCall {
		return func(t *testing.T) badCall {
			b := badBundle(t, badSpec(t, annotations, edit))
			return createRuntimeCall(t, stage, b, b)
		}
	}
	huge := strings.Repeat("x", 1<<20)
	return []badCase{
		{name: "opt-in value injects a capability", wantCode: 2, wantErr: `must be "true" or "false"`,
			setup: withSpec(map[string]string{spec.AnnotationRestore: "true; CAP_SYS_ADMIN"}, nil)},
		{name: "unknown profile", wantCode: 2, wantErr: "is not one of", setup: withSpec(optedIn("sysadmin"), nil)},
		{name: "profile the admin did not allow", wantCode: 1, wantErr: "allowed_profiles", setup: withSpec(optedIn("checkpoint"), nil)},
		{name: "1 MB opt-in value", wantCode: 2, wantErr: "(1048576 bytes)", setup: withSpec(map[string]string{spec.AnnotationRestore: huge}, nil)},
		{name: "1 MB profile", wantCode: 2, wantErr: "(1048576 bytes)", setup: withSpec(optedIn(huge), nil)},
		{name: "spec not adjusted", wantCode: 1, wantErr: "capabilities missing", setup: withSpec(optedIn(""), nil)},
		{name: "writable /proc/sys", wantCode: 1, wantErr: "/proc/sys is writable", setup: withSpec(optedIn(""), func(s *specs.Spec) {
			s.Linux.ReadonlyPaths = slices.DeleteFunc(s.Linux.ReadonlyPaths, func(p string) bool { return p == spec.ProcSys })
		})},
		{name: "no process", wantCode: 2, wantErr: "spec has no process", setup: withSpec(optedIn(""), func(s *specs.Spec) { s.Process = nil })},
		{name: "state that did not opt in is not read further", wantCode: 0, setup: func(t *testing.T) badCall {
			c := createRuntimeCall(t, stage, "/nonexistent/bundle", "")
			c.stdin = bytes.NewReader(badState(t, 4242, "/nonexistent/bundle", map[string]string{"org.example": "x"}))
			return c
		}},
		{name: "capability crhook does not know is fine", wantCode: 0, setup: func(t *testing.T) badCall {
			adjusted := precreateFor(t, badSpec(t, optedIn(""), withFutureCap))
			b := badBundle(t, adjusted)
			return createRuntimeCall(t, stage, b, b)
		}},
	}
}

const futureCap = "CAP_FROM_THE_FUTURE"

func withFutureCap(s *specs.Spec) {
	s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, futureCap)
	s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, futureCap)
}

// precreateFor runs crhook precreate on raw and returns the adjusted spec.
func precreateFor(t *testing.T, raw []byte) []byte {
	t.Helper()
	configPath, _ := badConfig(t, "")
	r, _ := invokeBad(t, badCall{args: []string{"precreate", "--config", configPath}, stdin: bytes.NewReader(raw)})
	if r.Code != 0 {
		t.Fatalf("precreate: %s", r)
	}
	return []byte(r.Stdout)
}

// assertPassedThrough: precreate handed the spec it refused on byte for
// byte (podman would start it; createRuntime refuses it) and logged one
// warning.
func assertPassedThrough(t *testing.T, c badCall, r result) {
	t.Helper()
	want := c.stdin.(*bytes.Reader)
	if _, err := want.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	in, err := io.ReadAll(want)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stdout != string(in) {
		t.Errorf("refused spec did not pass through byte for byte (%d bytes in, %d out)", len(in), len(r.Stdout))
	}
	lines := readLog(t, c.logPath)
	if len(lines) != 1 || lines[0].Result != "warning" {
		t.Errorf("log: %+v, want one warning", lines)
	}
}

// precreateCases: refused specs pass through byte for byte with exit 0
// (podman hides a precreate hook's stderr; createRuntime refuses them
// visibly), and the refusal is in the log.
func precreateCases() []badCase {
	passThrough := func(annotations map[string]string, edit func(*specs.Spec)) func(t *testing.T) badCall {
		return func(t *testing.T) badCall {
			configPath, logPath := badConfig(t, "")
			return badCall{args: []string{"precreate", "--config", configPath}, stdin: bytes.NewReader(badSpec(t, annotations, edit)), logPath: logPath}
		}
	}
	raw := func(text string) func(t *testing.T) badCall {
		return func(t *testing.T) badCall {
			configPath, logPath := badConfig(t, "")
			return badCall{args: []string{"precreate", "--config", configPath}, stdin: bytes.NewReader([]byte(text)), logPath: logPath}
		}
	}
	huge := strings.Repeat("y", 1<<20)
	rows := []badCase{
		// Go's decoder reads "Syscalls" as syscalls and crun's does not;
		// this spec once crashed precreate with an index out of range.
		// It is bad input wherever crhook reads it.
		{name: "seccomp rules spelled in another case", wantCode: 2, wantErr: `"Syscalls", spell it "syscalls"`, setup: raw(`{"process":{"user":{"uid":1000},"args":["sh"]},` +
			`"linux":{"readonlyPaths":["/proc/sys"],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","Syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}},` +
			`"annotations":{"io.crhook.restore":"true"}}`)},
		// Go matches "noNewPrivilegeſ" (long s) to noNewPrivileges: two
		// copies whose winner would flip when crhook re-encodes.
		{name: "member repeated with a long s", wantCode: 2, wantErr: "duplicate key", setup: raw(`{"process":{"user":{"uid":1000},"args":["sh"],` +
			`"noNewPrivilege\u017f":false,"noNewPrivileges":true},"linux":{"readonlyPaths":["/proc/sys"]},"annotations":{"io.crhook.restore":"true"}}`)},
		{name: "opt-in value injects a capability", setup: passThrough(map[string]string{spec.AnnotationRestore: "true; CAP_SYS_ADMIN"}, nil), check: assertPassedThrough},
		{name: "unknown profile", setup: passThrough(optedIn("sysadmin"), nil), check: assertPassedThrough},
		{name: "profile the admin did not allow", setup: passThrough(optedIn("checkpoint"), nil), check: assertPassedThrough},
		{name: "1 MB profile", setup: passThrough(optedIn(huge), nil), check: assertPassedThrough},
		{name: "writable /proc/sys", setup: passThrough(optedIn(""), func(s *specs.Spec) {
			s.Linux.ReadonlyPaths = slices.DeleteFunc(s.Linux.ReadonlyPaths, func(p string) bool { return p == spec.ProcSys })
		}), check: assertPassedThrough},
		{name: "capability crhook does not know is kept", setup: passThrough(optedIn(""), withFutureCap), check: func(t *testing.T, _ badCall, r result) {
			t.Helper()
			var out specs.Spec
			if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
				t.Fatalf("output is not a spec: %v", err)
			}
			c := out.Process.Capabilities
			if !slices.Contains(c.Bounding, futureCap) || !slices.Contains(c.Permitted, futureCap) {
				t.Errorf("%s was dropped: %+v", futureCap, c)
			}
			if !slices.Contains(c.Ambient, spec.CapCheckpointRestore) {
				t.Errorf("the grant did not happen: %+v", c)
			}
		}},
	}
	for i := range rows {
		rows[i].name = "precreate/" + rows[i].name
	}
	return rows
}

// poststartCases give poststart states whose pid is not a live process it
// may check. A live PID is never used: poststart kills the process it
// finds wanting.
func poststartCases() []badCase {
	withState := func(pid int, annotations map[string]string) func(t *testing.T) badCall {
		return func(t *testing.T) badCall {
			configPath, logPath := badConfig(t, "")
			return badCall{args: []string{"poststart", "--config", configPath}, stdin: bytes.NewReader(badState(t, pid, "/nonexistent", annotations)), logPath: logPath}
		}
	}
	warned := func(t *testing.T, c badCall, _ result) {
		t.Helper()
		lines := readLog(t, c.logPath)
		if len(lines) != 1 || lines[0].Result != "warning" {
			t.Errorf("log: %+v, want one warning", lines)
		}
	}
	rows := []badCase{
		{name: "pid 0", setup: withState(0, optedIn("")), wantCode: 2, wantErr: "has no pid"},
		{name: "negative pid", setup: withState(-1, optedIn("")), wantCode: 2, wantErr: "has pid -1"},
		{name: "most negative pid", setup: withState(-1<<63, optedIn("")), wantCode: 2, wantErr: "has pid"},
		{name: "pid above PID_MAX_LIMIT", setup: withState(1<<30, optedIn("")), wantCode: 0, check: warned},
		{name: "pid of a reaped process", wantCode: 0, check: warned, setup: func(t *testing.T) badCall {
			return withState(reapedPID(t), optedIn(""))(t)
		}},
		{name: "opt-in value injects a capability", setup: withState(1<<30, map[string]string{spec.AnnotationRestore: "true; CAP_SYS_ADMIN"}), wantCode: 2, wantErr: `must be "true" or "false"`},
		{name: "unknown profile", setup: withState(1<<30, optedIn("sysadmin")), wantCode: 2, wantErr: "is not one of"},
		{name: "profile the admin did not allow", setup: withState(1<<30, optedIn("checkpoint")), wantCode: 1, wantErr: "allowed_profiles"},
		{name: "1 MB profile", setup: withState(1<<30, optedIn(strings.Repeat("z", 1<<20))), wantCode: 2, wantErr: "(1048576 bytes)"},
		{name: "state that did not opt in", setup: withState(0, nil), wantCode: 0},
	}
	for i := range rows {
		rows[i].name = "poststart/" + rows[i].name
	}
	return rows
}

// reapedPID returns the pid of a process that has exited and been reaped.
func reapedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	mustDo(t, cmd.Run())
	return cmd.Process.Pid
}

// patchCases break the bundle, its config.json or the flags of patch;
// nothing in the bundle may change.
func patchCases() []badCase {
	rows := slices.Concat(patchBundleCases(), patchFlagCases(), patchConfigJSONCases(), patchSpecCases())
	for i := range rows {
		rows[i].name = "patch/" + rows[i].name
	}
	return rows
}

// patchCall runs patch on bundle with a fresh config and extra flags,
// watching watch.
func patchCall(t *testing.T, bundle, watch string, extra ...string) badCall {
	t.Helper()
	configPath, logPath := badConfig(t, "")
	args := append([]string{"patch", "--bundle", bundle, "--config", configPath}, extra...)
	return badCall{args: args, watch: watch, logPath: logPath}
}

// patchWithSpec is a setup that patches a bundle holding config.
func patchWithSpec(config []byte, extra ...string) func(t *testing.T) badCall {
	return func(t *testing.T) badCall {
		b := badBundle(t, config)
		return patchCall(t, b, b, extra...)
	}
}

// patchSpecWith is a setup that patches a bundle holding badSpec with
// annotations, changed by edit.
func patchSpecWith(annotations map[string]string, edit func(*specs.Spec)) func(t *testing.T) badCall {
	return func(t *testing.T) badCall {
		b := badBundle(t, badSpec(t, annotations, edit))
		return patchCall(t, b, b)
	}
}

// patchBundleCases: the bundle cannot be read, or is relative.
func patchBundleCases() []badCase {
	var rows []badCase
	for _, bb := range brokenBundles() {
		rows = append(rows, badCase{name: bb.name, wantCode: 2, wantErr: bb.wantErr, setup: func(t *testing.T) badCall {
			bundle, watch := bb.make(t)
			return patchCall(t, bundle, watch)
		}})
	}
	return append(rows,
		badCase{name: "relative bundle that is missing", wantCode: 2, wantErr: "no such file or directory", setup: func(t *testing.T) badCall {
			dir := t.TempDir()
			c := patchCall(t, "gone", dir)
			c.dir = dir
			return c
		}},
		badCase{name: "relative bundle is resolved against the working directory", wantCode: 0, setup: func(t *testing.T) badCall {
			parent := t.TempDir()
			mustDo(t, os.Mkdir(filepath.Join(parent, "b"), 0o755))
			mustDo(t, os.WriteFile(filepath.Join(parent, "b", "config.json"), badSpec(t, nil, nil), 0o644))
			c := patchCall(t, "b", "")
			c.dir = parent
			return c
		}, check: func(t *testing.T, c badCall, _ result) {
			t.Helper()
			raw, err := os.ReadFile(filepath.Join(c.dir, "b", "config.json"))
			mustDo(t, err)
			var s specs.Spec
			mustDo(t, json.Unmarshal(raw, &s))
			if s.Annotations[spec.AnnotationRestore] != "true" {
				t.Errorf("bundle not patched: annotations %v", s.Annotations)
			}
		}},
	)
}

// patchFlagCases are flags patch must refuse.
func patchFlagCases() []badCase {
	withDefaultSpec := func(extra ...string) func(t *testing.T) badCall {
		return func(t *testing.T) badCall {
			b := badBundle(t, badSpec(t, nil, nil))
			return patchCall(t, b, b, extra...)
		}
	}
	return []badCase{
		{name: "no --bundle", wantCode: 2, wantErr: "--bundle DIR is required", setup: func(t *testing.T) badCall {
			return badCall{args: []string{"patch"}}
		}},
		{name: "--bundle without a value", wantCode: 2, wantErr: "flag needs an argument", setup: func(t *testing.T) badCall {
			return badCall{args: []string{"patch", "--bundle"}}
		}},
		{name: "stray argument", wantCode: 2, wantErr: "unexpected argument", setup: patchWithSpec([]byte("{}"), "now")},
		{name: "unknown --profile", wantCode: 2, wantErr: "is not one of", setup: withDefaultSpec("--profile", "sysadmin")},
		{name: "--profile injects a capability", wantCode: 2, wantErr: "is not one of", setup: withDefaultSpec("--profile", "minimal,CAP_SYS_ADMIN")},
		{name: "--profile the admin did not allow", wantCode: 1, wantErr: "allowed_profiles", setup: withDefaultSpec("--profile", "checkpoint")},
	}
}

// patchConfigJSONCases: config.json does not parse, or its annotations
// ask for a profile patch must refuse.
func patchConfigJSONCases() []badCase {
	return []badCase{
		{name: "config.json is empty", wantCode: 2, wantErr: "input is empty", setup: patchWithSpec(nil)},
		{name: "config.json is not JSON", wantCode: 2, wantErr: "not a JSON object", setup: patchWithSpec([]byte("process: {}"))},
		{name: "config.json is truncated", wantCode: 2, wantErr: "unexpected end of JSON input", setup: patchWithSpec([]byte(`{"process":{"user":{"uid":10`))},
		{name: "config.json has wrong types", wantCode: 2, wantErr: "cannot unmarshal", setup: patchWithSpec([]byte(`{"process":"sh"}`))},
		{name: "config.json has a duplicate key", wantCode: 2, wantErr: "duplicate key", setup: patchWithSpec([]byte(`{"process":{"user":{"uid":0}},"process":{"user":{"uid":1000}}}`))},
		{name: "config.json spells a member in another case", wantCode: 2, wantErr: "letter case", setup: patchWithSpec([]byte(`{"Process":{"user":{"uid":1000},"args":["sh"]},"linux":{"readonlyPaths":["/proc/sys"]}}`))},
		{name: "config.json has no process", wantCode: 2, wantErr: "spec has no process", setup: patchWithSpec([]byte(`{"linux":{"readonlyPaths":["/proc/sys"]}}`))},
		{name: "hostile profile annotation", wantCode: 2, wantErr: "is not one of", setup: patchSpecWith(optedIn("minimal; CAP_SYS_ADMIN"), nil)},
		{name: "1 MB profile annotation", wantCode: 2, wantErr: "(1048576 bytes)", setup: patchSpecWith(optedIn(strings.Repeat("w", 1<<20)), nil)},
		{name: "profile annotation the admin did not allow", wantCode: 1, wantErr: "allowed_profiles", setup: patchSpecWith(optedIn("checkpoint"), nil)},
	}
}

// patchSpecCases: the spec defeats the grant's safety (a seccomp agent,
// the host's PID namespace, a writable sys) and patch refuses it; or it
// is fine after all.
func patchSpecCases() []badCase {
	return []badCase{
		{name: "clone3 rule for a seccomp agent", wantCode: 1, wantErr: "a seccomp agent (SCMP_ACT_NOTIFY)", setup: patchSpecWith(nil, func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"clone3"}, Action: specs.ActNotify}}}
		})},
		{name: "seccomp action with a terminal escape", wantCode: 1, wantErr: `"SCMP_ACT_\x1b[2J\rX"`, setup: func(t *testing.T) badCall {
			b := badBundle(t, badSpec(t, nil, func(s *specs.Spec) {
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"clone3"}, Action: "SCMP_ACT_\x1b[2J\rX"}}}
			}))
			configPath, logPath := badConfig(t, "open_clone3 = false")
			return badCall{args: []string{"patch", "--bundle", b, "--config", configPath}, watch: b, logPath: logPath}
		}},
		{name: "no PID namespace of its own", wantCode: 1, wantErr: "shares the runtime's (the host's) PID namespace", setup: patchSpecWith(nil, func(s *specs.Spec) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.PIDNamespace })
		})},
		{name: "joins a PID namespace by path", wantCode: 1, wantErr: `joins the PID namespace at "/proc/1/ns/pid"`, setup: patchSpecWith(nil, func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.PIDNamespace {
					s.Linux.Namespaces[i].Path = "/proc/1/ns/pid"
				}
			}
		})},
		{name: "read-write bind at ns_last_pid", wantCode: 1, wantErr: `read-write mount at "/proc/sys/kernel/ns_last_pid"`, setup: patchSpecWith(nil, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/sys/kernel/ns_last_pid", Source: "/tmp/x", Type: "bind", Options: []string{"bind", "rw"}})
		})},
		{name: "second procfs", wantCode: 1, wantErr: `a second procfs at "/mnt/proc"`, setup: patchSpecWith(nil, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/proc", Source: "proc", Type: "proc"})
		})},
		{name: "rbind of the host's /proc", wantCode: 1, wantErr: `the bind at "/hostproc" (mounts[7]) has source "/proc", which resolves to "/proc" on a procfs`, setup: patchSpecWith(nil, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hostproc", Source: "/proc", Type: "bind", Options: []string{"rbind", "ro"}})
		})},
		{name: "writable /proc/sys", wantCode: 1, wantErr: "/proc/sys is writable", setup: patchSpecWith(nil, func(s *specs.Spec) {
			s.Linux.ReadonlyPaths = slices.DeleteFunc(s.Linux.ReadonlyPaths, func(p string) bool { return p == spec.ProcSys })
		})},
		{name: "capability crhook does not know is kept", wantCode: 0, setup: func(t *testing.T) badCall {
			b := badBundle(t, badSpec(t, nil, withFutureCap))
			return patchCall(t, b, "")
		}, check: func(t *testing.T, c badCall, _ result) {
			t.Helper()
			raw, err := os.ReadFile(filepath.Join(c.args[2], "config.json"))
			mustDo(t, err)
			var s specs.Spec
			mustDo(t, json.Unmarshal(raw, &s))
			if caps := s.Process.Capabilities; !slices.Contains(caps.Bounding, futureCap) || !slices.Contains(caps.Ambient, spec.CapCheckpointRestore) {
				t.Errorf("capabilities after patch: %+v", caps)
			}
		}},
	}
}

// verifyCases are flags verify must refuse before it forks anything.
func verifyCases() []badCase {
	rows := []badCase{
		{name: "--tree 1", wantErr: "must be between 2 and"},
		{name: "--tree -1", wantErr: "must be between 2 and"},
		{name: "--tree 10001", wantErr: "must be between 2 and"},
		{name: "--tree many", wantErr: "invalid value"},
		{name: "--pids a", wantErr: "is not a PID"},
		{name: "--pids 0", wantErr: "is not a PID"},
		{name: "--pids -5", wantErr: "is not a PID"},
		{name: "--pids 500,,501", wantErr: "is not a PID"},
		{name: "--pids 500,500", wantErr: "listed twice"},
		{name: "--pids 99999999999999999999", wantErr: "is not a PID"},
		{name: "--pids 500 --tree 3", wantErr: "not both"},
		{name: "--json --bogus", wantErr: "flag provided but not defined"},
		{name: "--pids", wantErr: "flag needs an argument"},
		{name: "now", wantErr: "unexpected argument"},
		{name: "--images /nonexistent", wantErr: "read CRIU images in /nonexistent"},
		{name: "--images /etc/passwd", wantErr: "not a directory"},
		{name: "--images /etc", wantErr: "no inventory.img"},
		{name: "--images", wantErr: "flag needs an argument"},
		{name: "--images /etc --tree 3", wantErr: "runs no drill; drop --pids and --tree"},
		{name: "--images /etc --pids 500,501", wantErr: "runs no drill; drop --pids and --tree"},
	}
	for i := range rows {
		args := append([]string{"verify"}, strings.Fields(rows[i].name)...)
		rows[i].name = "verify/" + rows[i].name
		rows[i].wantCode = 2
		rows[i].setup = func(*testing.T) badCall { return badCall{args: args} }
	}
	return rows
}

// usageCases are commands and flags crhook does not know.
func usageCases() []badCase {
	rows := []badCase{
		{name: "", wantErr: "missing command"},
		{name: "frobnicate", wantErr: `unknown command "frobnicate"`},
		{name: "PRECREATE", wantErr: "unknown command"},
		{name: "--version", wantErr: "unknown command"},
		{name: "precreate --bogus", wantErr: "flag provided but not defined"},
		{name: "createRuntime --config", wantErr: "flag needs an argument"},
		{name: "poststart extra", wantErr: "unexpected argument"},
		{name: "prestart -- extra", wantErr: "unexpected argument"},
		{name: "version extra", wantErr: "takes no arguments"},
	}
	for i := range rows {
		args := strings.Fields(rows[i].name)
		rows[i].name = "usage/" + cmp.Or(rows[i].name, "no command")
		rows[i].wantCode = 2
		rows[i].setup = func(*testing.T) badCall { return badCall{args: args} }
	}
	return rows
}

// TestTimeoutStdinNeverCloses: a runtime that never closes a hook's stdin
// must not hold the container start. With timeout = "1s" each stage gives
// up within a few seconds, exits 1 and says it timed out.
func TestTimeoutStdinNeverCloses(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		stage string
		// written is what the runtime sends before it stalls.
		written string
	}{
		{stage: "precreate"},
		{stage: "precreate", written: `{"ociVersion":"1.0.2","process":{`},
		{stage: "createRuntime"},
		{stage: "createRuntime", written: `{"ociVersion":"1.0.2","id":"stalled","pid":4242,`},
		{stage: "prestart"},
		{stage: "poststart", written: `{"id":"stalled"`},
	}
	for _, tt := range tests {
		name := tt.stage + "/nothing written"
		if tt.written != "" {
			name = tt.stage + "/partial input written"
		}
		t.Run(name, func(t *testing.T) {
			configPath, logPath := badConfig(t, "timeout = \"1s\"\n")
			r, took := runWithOpenStdin(t, tt.written, tt.stage, "--config", configPath)
			if took > 5*time.Second {
				t.Errorf("took %s to give up, want under 5s", took.Round(time.Millisecond))
			}
			if r.Code != 1 {
				t.Fatalf("exit %d, want 1: %s", r.Code, r)
			}
			assertStderr(t, r, 1, "timed out after 1s")
			if tt.stage == "precreate" && r.Stdout != "" {
				t.Errorf("wrote %q to stdout", r.Stdout)
			}
			lines := readLog(t, logPath)
			if len(lines) != 1 || lines[0].Result != "refused" || !strings.Contains(lines[0].Error, "timed out") {
				t.Errorf("log: %+v, want one refusal that says it timed out", lines)
			}
		})
	}
}

// runWithOpenStdin runs crhook with a pipe for stdin: it writes written,
// then keeps the write end open until crhook has exited, as a stuck
// runtime would.
func runWithOpenStdin(t *testing.T, written string, args ...string) (result, time.Duration) {
	t.Helper()
	pr, pw, err := os.Pipe()
	mustDo(t, err)
	defer pw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, crhookBin, args...)
	cmd.Env = append(os.Environ(), "CRHOOK_CONFIG=")
	cmd.Stdin = pr
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		t.Fatal(err)
	}
	pr.Close() // crhook holds its own copy; ours must not keep it alive
	if _, err := pw.WriteString(written); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	took := time.Since(start)
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("crhook %s never gave up on its stdin", strings.Join(args, " "))
	case errors.As(err, &exitErr):
		r.Code = exitErr.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r, took
}
