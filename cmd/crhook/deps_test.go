package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoProtobufOrNet keeps every crhook command's start-up lean:
// the image reader decodes the wire format itself. go-criu's generated
// types with protobuf's runtime took a third of the preflight's time
// (their registration at start, their reflection set-up on first use),
// and protobuf's wire package alone brings internal/detrand, which reads
// the running binary at start. Package net is only a socket address's
// spelling to the reader. Only go-criu's magic table may be linked.
func TestLinksNoProtobufOrNet(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		heavy := pkg == "net" || strings.HasPrefix(pkg, "google.golang.org/protobuf/") ||
			(strings.HasPrefix(pkg, "github.com/checkpoint-restore/go-criu/") && pkg != "github.com/checkpoint-restore/go-criu/v7/magic")
		if heavy {
			t.Errorf("crhook links %s", pkg)
		}
	}
}
