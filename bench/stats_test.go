package bench

import (
	"slices"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{name: "none", in: nil, want: 0},
		{name: "odd", in: []float64{3, 1, 2}, want: 2},
		{name: "even", in: []float64{4, 1, 3, 2}, want: 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestMedianKeepsInput(t *testing.T) {
	in := []float64{3, 1, 2}
	median(in)
	if !slices.Equal(in, []float64{3, 1, 2}) {
		t.Errorf("median reordered its input: %v", in)
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{4, 1, 3, 2, 5}
	tests := []struct {
		q, want float64
	}{{0, 1}, {0.25, 2}, {0.5, 3}, {0.625, 3.5}, {1, 5}}
	for _, tt := range tests {
		if got := quantile(xs, tt.q); got != tt.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", xs, tt.q, got, tt.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile(nil) = %v, want 0", got)
	}
}

func TestRatios(t *testing.T) {
	got := ratios([]float64{2, 3, 8}, []float64{1, 0, 4})
	if !slices.Equal(got, []float64{2, 2}) {
		t.Errorf("got %v, want [2 2]", got)
	}
}

func TestDifferences(t *testing.T) {
	got := differences([]float64{2, 3, 8}, []float64{1, 0})
	if !slices.Equal(got, []float64{1, 3}) {
		t.Errorf("got %v, want [1 3]", got)
	}
}

func TestMillis(t *testing.T) {
	got := millis([]time.Duration{1500 * time.Microsecond})
	if !slices.Equal(got, []float64{1.5}) {
		t.Errorf("got %v, want [1.5]", got)
	}
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name string
		pair int
		want []int
	}{
		{name: "even pair runs forward", pair: 0, want: []int{0, 1, 2}},
		{name: "odd pair runs backward", pair: 1, want: []int{2, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := order(tt.pair, 3); !slices.Equal(got, tt.want) {
				t.Errorf("order(%d, 3) = %v, want %v", tt.pair, got, tt.want)
			}
		})
	}
}
