package criuimage

import (
	"encoding/binary"
	"net"
	"strconv"
	"testing"
)

// netHostPort is what hostPort stands in for.
func netHostPort(words []uint32, port uint32) string {
	ip := make(net.IP, 0, 16)
	for _, w := range words {
		ip = binary.LittleEndian.AppendUint32(ip, w)
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(uint64(port), 10))
}

// wordsOf packs an address's bytes into CRIU's words.
func wordsOf(ip net.IP) []uint32 {
	var words []uint32
	for i := 0; i+4 <= len(ip); i += 4 {
		words = append(words, binary.LittleEndian.Uint32(ip[i:]))
	}
	return words
}

func TestHostPortMatchesNet(t *testing.T) {
	tests := []struct {
		name  string
		words []uint32
		want  string
	}{
		{"ipv4", wordsOf(net.IPv4(10, 0, 0, 1).To4()), "10.0.0.1:80"},
		{"ipv4-mapped", wordsOf(net.IPv4(127, 0, 0, 1)), "127.0.0.1:80"},
		{"ipv6 loopback", wordsOf(net.IPv6loopback), "[::1]:80"},
		{"ipv6 unspecified", wordsOf(net.IPv6unspecified), "[::]:80"},
		{"ipv6 run at the end", wordsOf(net.ParseIP("2001:db8::")), "[2001:db8::]:80"},
		{"ipv6 longest run wins", wordsOf(net.ParseIP("2001:0:0:1:0:0:0:1")), "[2001:0:0:1::1]:80"},
		{"ipv6 first of equal runs", wordsOf(net.ParseIP("2001:db8:0:0:1:0:0:1")), "[2001:db8::1:0:0:1]:80"},
		{"ipv6 single zero group kept", wordsOf(net.ParseIP("2001:db8:0:1:1:1:1:1")), "[2001:db8:0:1:1:1:1:1]:80"},
		{"ipv6 no zero", wordsOf(net.ParseIP("fe80:1:2:3:4:5:6:ffff")), "[fe80:1:2:3:4:5:6:ffff]:80"},
		{"no address", nil, "<nil>:80"},
		{"two words", []uint32{1, 2}, "?0100000002000000:80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hostPort(tt.words, 80)
			if got != tt.want || got != netHostPort(tt.words, 80) {
				t.Errorf("hostPort = %q, want %q (net: %q)", got, tt.want, netHostPort(tt.words, 80))
			}
		})
	}
}

func FuzzHostPortMatchesNet(f *testing.F) {
	f.Add([]byte{10, 0, 0, 1}, uint32(80))
	f.Add(make([]byte, 16), uint32(0))
	f.Fuzz(func(t *testing.T, ip []byte, port uint32) {
		words := wordsOf(ip)
		if got, want := hostPort(words, port), netHostPort(words, port); got != want {
			t.Errorf("hostPort(%x) = %q, net %q", ip, got, want)
		}
	})
}
