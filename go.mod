module github.com/crhook/crhook

go 1.26.8

// Only what crhook links. The tests that drive real engines, and the
// libraries they read crhook's output with, are in test/go.mod.
require (
	github.com/checkpoint-restore/go-criu/v7 v7.2.0
	github.com/go-json-experiment/json v1.27.2
	github.com/moby/sys/capability v0.5.0
	github.com/moby/sys/mountinfo v0.7.2
	github.com/opencontainers/runtime-spec v1.3.0
	github.com/pelletier/go-toml/v2 v2.4.3
	golang.org/x/sys v0.50.0
	google.golang.org/protobuf v1.36.12-0.20260120151049-f2248ac996af
)
