package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestTargets(t *testing.T) {
	tests := []struct {
		name   string
		target Target
		value  float64
		want   bool
	}{
		{name: "at most, on the bound", target: atMost(1.1), value: 1.1, want: true},
		{name: "at most, above", target: atMost(1.1), value: 1.2, want: false},
		{name: "below, on the bound", target: below(5), value: 5, want: false},
		{name: "within, inside", target: within(0.8, 1.25), value: 1, want: true},
		{name: "within, outside", target: within(0.8, 1.25), value: 0.5, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := checked("x", tt.value, "x", tt.target)
			if row.Met == nil || *row.Met != tt.want {
				t.Errorf("%s with %v: met = %v, want %v", tt.target.Text, tt.value, row.Met, tt.want)
			}
		})
	}
}

func TestReportMarksMissedTargets(t *testing.T) {
	r := Report{Pairs: 20, Figures: []Figure{{
		Title: "1. Figure",
		Rows: []Row{
			info("plain", 3, "ms"),
			checked("ratio", 1.4, "x", atMost(1.1)),
			checked("rate", 2, "/s", within(1, 3)),
		},
	}}}
	if got := r.Missed(); !slices.Equal(got, []string{"1. Figure: ratio"}) {
		t.Errorf("Missed() = %v", got)
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"not met", "<= 1.100", "targets not met: 1"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
}
