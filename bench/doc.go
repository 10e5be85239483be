// Package bench measures crhook where it costs something: the start of a
// container under runc with crhook's hooks, `crhook precreate` on small
// and very large specs, and placing a process tree at chosen PIDs with
// clone3 set_tid against PID cycling. Every figure is a ratio or rate of
// two things measured side by side in one run, in interleaved pairs, and
// reported as medians, because shared machines are noisy. A missed target
// is reported, never turned into an error.
//
// It starts real containers and creates namespaces, so it needs root and
// runc. It is driven by cmd/crhook-bench (`make bench`); it is not for
// tests, which must not depend on timing.
package bench
