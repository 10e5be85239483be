// Package hostpath resolves paths on the host the way a container
// runtime does when it mounts them: every link followed, from the
// bundle when relative, the filesystem told by its statfs magic rather
// than by its name. It answers spec.Sources for the hook stages.
package hostpath
