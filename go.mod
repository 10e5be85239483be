module github.com/crhook/crhook

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/moby/profiles/seccomp v0.3.0
	github.com/moby/sys/mountinfo v0.7.2
	github.com/opencontainers/runtime-spec v1.3.0
	golang.org/x/sys v0.50.0
)

require github.com/moby/sys/capability v0.5.0

require (
	github.com/containers/common v0.60.4
	github.com/containers/storage v1.55.0 // indirect
	github.com/fsnotify/fsnotify v1.7.0 // indirect
	github.com/sirupsen/logrus v1.9.3 // indirect
)
