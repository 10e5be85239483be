// Package criuimage reads what the restore preflight needs from a CRIU
// image directory (criu dump -D): the process tree, each thread's
// credentials, the regular files the tree had open and its TCP
// connections. It frames entries itself, with every size checked against
// the file, and decodes only the fields it needs straight from the wire
// (entries.go), so a hostile directory can neither grow memory nor panic
// the reader.
//
// Its tests hold those decoders to the CRIU project's own Go types
// (go-criu's crit/images); the product does not link them. Their
// protobuf registration at start and reflection set-up on first use took
// a third of each `crhook verify --images` (figure 5 of make bench).
//
// It reads and converts only; whether the dump can be restored is
// spec.RestoreBlockers's to decide.
package criuimage
