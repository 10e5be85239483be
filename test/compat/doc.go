// Package compat holds crhook's output to the libraries the engines
// themselves use to read it: podman's and CRI-O's hooks.d loader
// (containers/common), containerd 2.x's config loader for the version 3
// drop-in (Debian 12 runs containerd 1.6, which cannot read version 3),
// Kubernetes' API types for the manifests, and moby/profiles for the
// Docker seccomp profile in spec/testdata. It has
// only tests; it lives in the test module so that the product's go.mod
// lists only what crhook links.
package compat
