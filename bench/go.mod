module github.com/crhook/crhook/bench

go 1.26.8

// The benchmarks are a module of their own: they drive engines through
// libraries (CRI's gRPC API) that crhook itself never links.
require github.com/crhook/crhook v0.0.0

require (
	github.com/moby/sys/mountinfo v0.7.2
	github.com/opencontainers/runtime-spec v1.3.0
	golang.org/x/sys v0.50.0
	google.golang.org/grpc v1.83.2
	k8s.io/cri-api v0.37.2
)

require (
	github.com/moby/sys/capability v0.5.0 // indirect
	golang.org/x/net v0.58.0 // indirect
	golang.org/x/text v0.41.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260526163538-3dc84a4a5aaa // indirect
	google.golang.org/protobuf v1.36.12-0.20260120151049-f2248ac996af // indirect
)

replace github.com/crhook/crhook => ../
