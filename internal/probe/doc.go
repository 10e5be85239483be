// Package probe asks the kernel, as the calling process, for the
// operations a restore needs: clone3 with set_tid (alone and as a process
// tree), writing ns_last_pid, mounting a fresh /proc in a new user and PID
// namespace, opening /proc/self/map_files, and whether seccomp lets clone3
// through. Every answer is the kernel's own; nothing is inferred from
// configuration. It is for `crhook verify`, run inside a container, and
// for the benchmarks, which hold set_tid against PID cycling (see
// bench/cycle).
package probe
