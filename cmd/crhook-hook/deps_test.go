package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoHeavyPackages keeps crhook-hook lean: it runs on every
// container start, and these packages cost start-up time (go-criu's and
// protobuf's init registrations, about a millisecond measured here) or
// size (net) for nothing a hook does.
func TestLinksNoHeavyPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/checkpoint-restore/go-criu", "google.golang.org/protobuf", "net"} {
			if pkg == banned || strings.HasPrefix(pkg, banned+"/") {
				t.Errorf("crhook-hook links %s", pkg)
			}
		}
	}
}
