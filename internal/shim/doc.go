// Package shim is crhook-runtime: an OCI runtime in front of the real one
// (runc, crun) for engines with no precreate stage, such as Docker,
// containerd, CRI-O and Kubernetes RuntimeClasses. For `create` and `run`
// it finds the bundle, adjusts config.json for an opted-in container the
// way `crhook patch` does, and then execs the real runtime with the
// arguments untouched. Every other command goes straight through.
//
// Argument parsing is pure and lives in args.go; exec is Linux-only.
package shim
