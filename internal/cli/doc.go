// Package cli wires crhook's command lines to its packages: the command
// table, flags that every command shares, the stage runner (config,
// deadline, one log line) and the runtime shim's entry. Both binaries use
// it: crhook, with every command, and crhook-hook, the lean build engines
// run on every container start, with only the stages and the shim.
//
// It holds no policy and reads no input beyond flags and the config; the
// stages are package hook's and the decisions package spec's.
package cli
