// Package spec holds crhook's policy over OCI runtime specs: which
// containers opted in, which capabilities their profile grants and in which
// sets, whether /proc/sys stays read-only, whether seccomp lets clone3
// through, and the lossless edit that applies all of it to a config.json.
//
// Everything here is pure: functions take runtime-spec types or raw JSON
// and return results. Reading files, /proc, stdin and exiting belong to the
// hook package and cmd/crhook. Do not use this package to talk to a runtime.
package spec
