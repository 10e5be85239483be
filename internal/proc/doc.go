// Package proc reads what crhook needs to know about another process from
// /proc/PID: its capability sets, uid, seccomp mode and no_new_privs from
// status, and its mount table from mountinfo. Parsers take an io.Reader so
// tests and fuzzers feed them text; the readers for a live PID are
// Linux-only. It reads and parses only: what a mount table or a status
// means for a container is package spec's to decide.
package proc
