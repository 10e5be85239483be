// Package cycle reaches chosen PIDs the way restore tools did before
// clone3 set_tid, as fast as this machine allows: it creates children
// that exit at once until the kernel's PID allocator hands out the one
// before the wanted PID, then creates the process that gets it. It is
// the baseline figure 3 of crhook-bench holds set_tid against, so it is
// written for speed, in C: vfork children (no copy of the address
// space), from several threads while the wanted PID is far, one by one
// near it. The process that lands at the wanted PID is created the way
// set_tid's is (clone3 with a copy of the address space), so the two
// differ only in the PIDs cycling passes over.
//
// It needs cgo; built without it, every function fails with ErrNoCgo.
package cycle
