// Package config loads the admin's crhook config (TOML, by default
// /etc/crhook/config.toml): which profiles containers may ask for, what to
// do with a writable /proc/sys, where to log, how long a hook may take,
// and which runtime crhook-runtime hands off to. A missing default file
// means the defaults; a file that does not parse, or names a key crhook
// does not know, is an error rather than a silent default.
package config
