package proc

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseStatus feeds the /proc/PID/status parser arbitrary text. It
// must never panic; whatever it accepts must survive a round trip through
// the kernel's own format, and the capability helpers must agree with the
// bit masks it returned.
func FuzzParseStatus(f *testing.F) {
	real, err := os.ReadFile("testdata/runc-root-status.txt")
	if err != nil {
		f.Fatal(err)
	}
	base := "Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nCapInh:\t0000010000000000\nCapPrm:\t0000010000000000\n" +
		"CapEff:\t0000010000000000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000010000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n"
	for _, seed := range []string{
		string(real),
		base,
		strings.ReplaceAll(string(real), "\n", "\r\n"),
		strings.Replace(base, "CapAmb:\t0000010000000000\n", "", 1),
		strings.Replace(base, "CapEff:\t0000010000000000", "CapEff:\tffffffffffffffff", 1),
		strings.Replace(base, "CapEff:\t0000010000000000", "CapEff:\t10000000000000000", 1),
		strings.Replace(base, "Uid:\t1000\t1000\t1000\t1000", "Uid:\t0\t4294967295\t0\t0", 1),
		strings.Replace(base, "Uid:\t1000\t1000\t1000\t1000", "Uid:\t0\t4294967296\t0\t0", 1),
		base + "CapEff:\t0\n",
		base + "Seccomp:\t-1\n",
		"Uid:" + strings.Repeat(" ", 70000) + "0 0 0 0\n",
		"\x00\xff:\n::::\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseStatus(bytes.NewReader(data))
		if err != nil {
			if !reflect.DeepEqual(st, Status{}) {
				t.Fatalf("error %v came with a non-zero status %+v", err, st)
			}
			return
		}
		again, err := ParseStatus(strings.NewReader(formatStatus(st)))
		if err != nil {
			t.Fatalf("status in the kernel's format does not parse: %v\n%s", err, formatStatus(st))
		}
		if !reflect.DeepEqual(again, st) {
			t.Fatalf("round trip changed the status: %+v, then %+v", st, again)
		}
		for _, name := range []string{"bounding", "effective", "permitted", "inheritable", "ambient"} {
			mask, ok := st.Set(name)
			if !ok {
				t.Fatalf("set %s unknown", name)
			}
			for n := -1; n <= 64; n++ {
				want := n >= 0 && n < 64 && mask>>uint(n)&1 == 1
				if Has(mask, n) != want {
					t.Fatalf("Has(%#x, %d) = %v, want %v", mask, n, !want, want)
				}
			}
		}
	})
}

// formatStatus writes st the way the kernel writes /proc/PID/status.
func formatStatus(st Status) string {
	noNewPrivs := 0
	if st.NoNewPrivs {
		noNewPrivs = 1
	}
	text := fmt.Sprintf("Name:\tx\nUid:\t%d\t%d\t%d\t%d\n", st.UIDs[0], st.UIDs[1], st.UIDs[2], st.UIDs[3])
	if st.GIDs != [4]uint32{} {
		text += fmt.Sprintf("Gid:\t%d\t%d\t%d\t%d\n", st.GIDs[0], st.GIDs[1], st.GIDs[2], st.GIDs[3])
	}
	if st.Groups != nil {
		text += "Groups:\t"
		for _, g := range st.Groups {
			text += fmt.Sprintf("%d ", g)
		}
		text += "\n"
	}
	if st.NSpid != nil {
		text += "NSpid:"
		for _, p := range st.NSpid {
			text += fmt.Sprintf("\t%d", p)
		}
		text += "\n"
	}
	return text + fmt.Sprintf("CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\nCapBnd:\t%016x\nCapAmb:\t%016x\nNoNewPrivs:\t%d\nSeccomp:\t%d\n",
		st.Inheritable, st.Permitted, st.Effective, st.Bounding, st.Ambient, noNewPrivs, st.Seccomp)
}
