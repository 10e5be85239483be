package criuimage

import (
	"encoding/binary"
	"strconv"
)

// hostPort writes a dumped socket's address as net.JoinHostPort would
// write the net.IP its words hold (CRIU keeps an address as uint32
// words in network byte order): dotted for IPv4, also IPv4-mapped, and
// RFC 5952 for IPv6, in brackets. It is here rather than in package net,
// whose start-up every crhook process would pay. TestHostPortMatchesNet
// holds it to net.
func hostPort(words []uint32, port uint32) string {
	ip := make([]byte, 0, 16)
	for _, w := range words {
		ip = binary.LittleEndian.AppendUint32(ip, w)
	}
	p := strconv.FormatUint(uint64(port), 10)
	switch {
	case len(ip) == 4:
		return dotted(ip) + ":" + p
	case len(ip) == 16 && isV4Mapped(ip):
		return dotted(ip[12:]) + ":" + p
	case len(ip) == 16:
		return "[" + ipv6(ip) + "]:" + p
	case len(ip) == 0:
		return "<nil>:" + p
	}
	// As net.IP.String writes an address of no valid length.
	const digits = "0123456789abcdef"
	s := []byte{'?'}
	for _, b := range ip {
		s = append(s, digits[b>>4], digits[b&15])
	}
	return string(s) + ":" + p
}

func isV4Mapped(ip []byte) bool {
	for _, b := range ip[:10] {
		if b != 0 {
			return false
		}
	}
	return ip[10] == 0xff && ip[11] == 0xff
}

func dotted(ip []byte) string {
	s := make([]byte, 0, len("255.255.255.255"))
	for i, b := range ip {
		if i > 0 {
			s = append(s, '.')
		}
		s = strconv.AppendUint(s, uint64(b), 10)
	}
	return string(s)
}

// ipv6 writes 16 bytes in RFC 5952's form: lowercase groups without
// leading zeros, the longest run of two or more zero groups (the first,
// on a tie) as "::".
func ipv6(ip []byte) string {
	group := func(i int) uint16 { return binary.BigEndian.Uint16(ip[2*i:]) }
	runStart, runEnd := -1, -1
	for i := 0; i < 8; i++ {
		j := i
		for j < 8 && group(j) == 0 {
			j++
		}
		if j-i >= 2 && j-i > runEnd-runStart {
			runStart, runEnd = i, j
		}
		i = j
	}
	s := make([]byte, 0, len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
	for i := 0; i < 8; i++ {
		if i == runStart {
			s = append(s, "::"...)
			i = runEnd - 1
			continue
		}
		if i > 0 && i != runEnd {
			s = append(s, ':')
		}
		s = strconv.AppendUint(s, uint64(group(i)), 16)
	}
	return string(s)
}
