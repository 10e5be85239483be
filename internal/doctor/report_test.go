package doctor

import (
	"strings"
	"testing"
)

func TestReady(t *testing.T) {
	tests := []struct {
		name  string
		lines []Line
		want  bool
		// why is what NotReady says when not ready.
		why string
	}{
		{name: "runc and a good kernel", lines: []Line{{Name: "kernel", Status: StatusOK}, {Name: "runc", Status: StatusOK}}, want: true},
		{name: "crun only", lines: []Line{{Name: "runc", Status: StatusInfo}, {Name: "crun", Status: StatusOK}}, want: true},
		{name: "no runtime", lines: []Line{{Name: "kernel", Status: StatusOK}, {Name: "runc", Status: StatusInfo}}, why: "neither runc nor crun is usable"},
		{name: "old kernel", lines: []Line{{Name: "kernel", Status: StatusFail}, {Name: "runc", Status: StatusOK}}, why: "fix the lines marked fail"},
		{name: "warnings do not block", lines: []Line{{Name: "criu", Status: StatusWarn}, {Name: "runc", Status: StatusOK}}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ready(tt.lines); got != tt.want {
				t.Errorf("ready = %v, want %v", got, tt.want)
			}
			if why := (Report{Lines: tt.lines}).NotReady(); !tt.want && !strings.HasPrefix(why, tt.why) {
				t.Errorf("not ready because %q, want %q", why, tt.why)
			}
		})
	}
}

func TestMajorMinor(t *testing.T) {
	tests := []struct {
		in           string
		major, minor int
		ok           bool
	}{
		{"3.17.1", 3, 17, true},
		{"3.18", 3, 18, true},
		{"4", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			major, minor, ok := majorMinor(tt.in)
			if major != tt.major || minor != tt.minor || ok != tt.ok {
				t.Errorf("got %d %d %v", major, minor, ok)
			}
		})
	}
}
