// Package e2e runs crhook with the real runtimes and engines on this
// machine: runc, crun, podman and containerd. Each test builds a busybox
// bundle with crhook inside, starts a real container as a non-root user
// and asks the kernel, from inside, whether it can place processes at
// chosen PIDs. The tests need root; without it they skip and say so.
package e2e
