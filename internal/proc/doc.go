// Package proc reads what crhook needs to know about another process from
// /proc/PID: its capability sets and uid from status, and which mount the
// process sees at a path from mountinfo. Parsers take an io.Reader so tests
// and fuzzers feed them text; the readers for a live PID are Linux-only.
// It reads other processes, never the caller's own mount namespace.
package proc
