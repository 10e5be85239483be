// Package boundedio reads input that crhook does not control without
// letting it exhaust memory or block a container start: every read has a
// size limit, and files must be regular files (a FIFO or a directory named
// config.json must fail at once, not hang).
package boundedio
