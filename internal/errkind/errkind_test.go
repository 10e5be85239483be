package errkind

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	bad := BadInput(errors.New("profile \"x\" is not one of minimal"))
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "nil", err: nil, want: ExitOK},
		{name: "failed check", err: errors.New("seccomp blocks clone3"), want: ExitFailed},
		{name: "bad input", err: bad, want: ExitBadInput},
		{name: "wrapped bad input", err: fmt.Errorf("container c1: %w", bad), want: ExitBadInput},
		{name: "joined with a failure", err: errors.Join(errors.New("refused"), bad), want: ExitBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestBadInputKeepsMessageAndNil(t *testing.T) {
	if BadInput(nil) != nil {
		t.Fatal("BadInput(nil) must stay nil")
	}
	inner := errors.New("spec has no process")
	err := BadInput(inner)
	if err.Error() != inner.Error() || !errors.Is(err, inner) || !errors.Is(err, ErrBadInput) {
		t.Fatalf("BadInput changed the error: %v", err)
	}
}
