// Package dropcaps starts a program holding no capability, from a
// process of a crhook container that holds its profile: the app a user
// will dump then holds nothing, while criu, started apart, holds the
// profile. So its dump restores under any profile, minimal included,
// whatever profile took it, and the restored app holds nothing again.
// (`crhook drop-caps -- CMD`, for an entrypoint or an exec.)
package dropcaps
