package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoGeneratedProtobuf keeps `crhook verify --images` quick: the
// image reader decodes the wire format itself, and go-criu's generated
// types with protobuf's runtime took a third of the preflight's time
// (their registration at start, their reflection set-up on first use).
// Only go-criu's magic table and protobuf's wire primitives may be linked.
func TestLinksNoGeneratedProtobuf(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := map[string]bool{
		"github.com/checkpoint-restore/go-criu/v7/magic": true,
		"google.golang.org/protobuf/encoding/protowire":  true,
		"google.golang.org/protobuf/internal/errors":     true,
		"google.golang.org/protobuf/internal/detrand":    true,
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, heavy := range []string{"github.com/checkpoint-restore/go-criu", "google.golang.org/protobuf"} {
			if strings.HasPrefix(pkg, heavy+"/") && !allowed[pkg] {
				t.Errorf("crhook links %s", pkg)
			}
		}
	}
}
