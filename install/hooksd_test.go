package install

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// testOptions points Crhook at the test binary: podman's loader skips a
// hook whose program does not exist.
func testOptions(t *testing.T) Options {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Runtime in the test's directory: For makes its link, which must not
	// land in the host's /usr/local/bin.
	return Options{Hook: exe, Runtime: filepath.Join(t.TempDir(), "crhook-runtime"), Timeout: 10, HooksDir: t.TempDir(), EngineConfig: filepath.Join(t.TempDir(), "engine.conf"),
		Record: filepath.Join(t.TempDir(), "install-record.json")}
}

func TestHooksdInstallIsIdempotentAndUninstallRemovesOnlyCrhook(t *testing.T) {
	o := testOptions(t)
	other := filepath.Join(o.HooksDir, "other.json")
	if err := os.WriteFile(other, []byte(`{"version":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, engine := range []string{"podman", "crio"} {
		t.Run(engine, func(t *testing.T) {
			o.EngineConfig = t.TempDir()
			plan, err := For(engine, o, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := plan.Apply(io.Discard); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := plan.Apply(&out); err != nil || !bytes.Contains(out.Bytes(), []byte("nothing to change")) {
				t.Fatalf("second install: %v %q", err, out.String())
			}
			undo, err := For(engine, o, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := undo.Apply(io.Discard); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(o.HooksDir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != "other.json" {
				t.Errorf("after uninstall the hooks dir holds %v, want only other.json", entries)
			}
		})
	}
}
