// Package criuimage reads what the restore preflight needs from a CRIU
// image directory (criu dump -D): the process tree, each thread's
// credentials and the regular files the tree had open. It decodes with
// the CRIU project's own Go types (go-criu's crit/images) and frames
// entries itself, with every size checked against the file, so a hostile
// directory can neither grow memory nor panic the reader.
//
// It reads and converts only; whether the dump can be restored is
// spec.RestoreBlockers's to decide. crhook-hook must not import it: the
// protobuf registrations of go-criu's packages cost every process that
// links them about a millisecond at start.
package criuimage
