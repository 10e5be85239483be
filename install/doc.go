// Package install owns what crhook writes into container engines: the
// hooks.d files podman and CRI-O read, Docker's daemon.json runtime entry,
// containerd's runtime entry and CRI-O's drop-in. Each engine's change is
// a Plan computed by pure functions from the engine's current file, so it
// can be printed (--dry-run), applied atomically, and undone by removing
// exactly crhook's part while every other setting stays as it was.
package install
