package hook

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
)

func TestOneLine(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "plain", err: errors.New("container c1: /proc/sys is writable"), want: "container c1: /proc/sys is writable"},
		{name: "joined", err: errors.Join(errors.New("a"), errors.New("b")), want: "a; b"},
		{name: "terminal escape from input", err: fmt.Errorf("container %s: refused", "x\x1b[2J\ry"), want: `container x\x1b[2J\x0dy: refused`},
		{name: "nul and del", err: errors.New("a\x00b\x7fc"), want: `a\x00b\x7fc`},
		{name: "bidi override", err: errors.New("a\u202eb"), want: `a\u202eb`},
		{name: "unicode text stays", err: errors.New("profil «minimal» ok"), want: "profil «minimal» ok"},
		{name: "trailing newline", err: errors.New("done\n"), want: "done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := OneLine(tt.err)
			if got != tt.want {
				t.Errorf("OneLine = %q, want %q", got, tt.want)
			}
			if strings.ContainsFunc(got, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) {
				t.Errorf("%q holds a character a terminal would act on", got)
			}
		})
	}
}
