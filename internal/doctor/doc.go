// Package doctor is `crhook doctor`: host readiness in one screen. It asks
// the kernel (capability 40, clone3 with set_tid, Yama), finds CRIU, the
// runtimes and the engines with their versions and whether crhook is
// installed into each, and gives every line a verdict and a fix.
package doctor
