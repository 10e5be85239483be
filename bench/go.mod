module github.com/crhook/crhook/bench

go 1.26.8

// The benchmarks are a module of their own: they drive engines through
// libraries (CRI's gRPC API) that crhook itself never links.
require github.com/crhook/crhook v0.0.0

require (
	github.com/opencontainers/runtime-spec v1.3.0
	golang.org/x/sys v0.50.0
)

require github.com/moby/sys/capability v0.5.0 // indirect

replace github.com/crhook/crhook => ../
