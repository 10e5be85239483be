// Package hook runs crhook's stages: precreate (spec in, spec out), patch
// (a bundle's config.json in place), createRuntime/prestart (check the
// config before the container starts) and poststart (check the live
// process). It does the I/O and the order of steps; every decision comes
// from package spec, so nothing here is policy.
package hook
