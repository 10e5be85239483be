// Package atomicfile replaces files so that readers see the old content or
// the new, never a mix, and a failure or a kill part-way leaves the old
// file as it was. It also serializes writers of one directory with a lock.
// It is for crhook's edits of config.json and engine configs, not for logs.
package atomicfile
