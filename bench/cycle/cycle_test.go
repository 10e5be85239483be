//go:build linux && cgo

package cycle

import (
	"testing"

	"github.com/crhook/crhook/internal/probe"
)

// TestPlace reaches PIDs ahead of the allocator, near (one child at a
// time) and far (threads first). The host's other processes take PIDs
// too, so a placement that lost its PID to one is tried again.
func TestPlace(t *testing.T) {
	tests := []struct {
		name  string
		ahead int
	}{
		{name: "next PID", ahead: 1},
		{name: "near", ahead: 10},
		{name: "far", ahead: 4 * slack(Threads())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last probe.Placement
			for range 5 {
				start, err := probe.LastPID()
				if err != nil {
					t.Fatal(err)
				}
				want := start + tt.ahead
				if probe.Taken(want) {
					continue
				}
				p, created := Place(want, start, 2*tt.ahead+1000, nil)
				if p.OK() {
					if _, err := probe.Reap(p.Got); err != nil {
						t.Fatal(err)
					}
					if created < 1 {
						t.Fatalf("placed %d creating %d processes", want, created)
					}
					return
				}
				last = p
			}
			t.Fatalf("never placed: last try wanted %d, got %d %s", last.Want, last.Got, last.Error)
		})
	}
}

func TestRate(t *testing.T) {
	for _, fork := range []bool{false, true} {
		for _, threads := range []int{1, 3} {
			took, err := Rate(50, threads, fork)
			if err != nil || took <= 0 {
				t.Fatalf("fork=%v threads=%d: took %v, err %v", fork, threads, took, err)
			}
		}
	}
}
