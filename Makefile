# crhook: build, test and demo. `make demo` and `make test` work on a fresh
# Debian machine as root: they install what they need with apt-get.

export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin
PREFIX ?= /usr/local

# Debian packages the end-to-end tests and the demo drive for real.
TEST_PACKAGES := runc crun podman containerd docker.io busybox-static python3 time
DEMO_PACKAGES := runc busybox-static python3
# make test-criu dumps and restores a HotSpot JVM (Debian's OpenJDK) and
# migrates between two network namespaces (ip).
CRIU_TEST_PACKAGES := openjdk-17-jdk-headless iproute2
# The benchmarks' PID cycler is C (bench/cycle), for speed; figure 4 drives
# containerd and Docker.
BENCH_PACKAGES := runc busybox-static python3 gcc libc6-dev containerd docker.io

IMAGE ?= localhost/crhook:$(VERSION)

# Builds of upstream releases the tests run, cached outside the tracked
# files: a second make test reuses them.
BUILD_CACHE ?= /var/cache/crhook-build
# The newest runc: Debian 12 has 1.1.5, nodes run 1.2 to 1.5, whose mount
# code changed. Built from its Go module with seccomp (libseccomp).
RUNC_NEWEST_VERSION := v1.5.3
RUNC_NEWEST := $(BUILD_CACHE)/runc-$(RUNC_NEWEST_VERSION)/runc
# The cluster make test-kubernetes runs: Kubernetes and etcd (the version
# that release supports), containerd 2.x, each from its own module.
KUBERNETES_VERSION := v1.37.2
ETCD_VERSION := v3.7.0
CONTAINERD_VERSION := v2.4.2
KUBE_BIN := $(BUILD_CACHE)/kubernetes-$(KUBERNETES_VERSION)
CONTAINERD_BIN := $(BUILD_CACHE)/containerd-$(CONTAINERD_VERSION)
# Debian's CNI plugins for the pods' network; podman and busybox build the
# images; iproute2 makes the node's network namespace.
KUBERNETES_PACKAGES := containernetworking-plugins iproute2 podman busybox-static

.PHONY: all build test test-criu test-kubernetes unit e2e demo bench fuzz lint install clean deps-test deps-demo deps-bench image runc-newest kubernetes-builds

all: build

# crhook has every command; crhook-hook is the lean build engines run on
# every container start (the stages, and the shim as crhook-runtime).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/crhook ./cmd/crhook
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/crhook-hook ./cmd/crhook-hook
	ln -sf crhook-hook $(BIN)/crhook-runtime

deps-test:
	@scripts/ensure-packages.sh $(TEST_PACKAGES)

runc-newest: $(RUNC_NEWEST)

$(RUNC_NEWEST):
	@scripts/ensure-packages.sh libseccomp-dev pkg-config gcc
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) CGO_ENABLED=1 $(GO) install -tags seccomp github.com/opencontainers/runc@$(RUNC_NEWEST_VERSION)

deps-demo:
	@scripts/ensure-packages.sh $(DEMO_PACKAGES)

deps-bench:
	@scripts/ensure-packages.sh $(BENCH_PACKAGES)

# Three modules: the product (the root, which lists only what crhook
# links); test/, the end-to-end tests and the checks against the
# engines' own libraries, which need Kubernetes' and containerd's; and
# bench/, the benchmarks, which drive engines through CRI's gRPC API.
lint:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './bin/*')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	cd test && $(GO) vet ./...
	cd bench && $(GO) vet ./...

unit:
	$(GO) test -count=1 ./...
	cd bench && $(GO) test -count=1 ./...
	cd test && $(GO) test -count=1 ./compat/...

e2e: build $(RUNC_NEWEST)
	cd test && CRHOOK_RUNC_NEWEST=$(RUNC_NEWEST) $(GO) test -count=1 -timeout 20m ./e2e/...

# make test is a gate, so it is deterministic: go test runs every fuzz
# target over its committed corpus (the seeds and each failing input
# found so far) but does not explore. A random 10 s search once failed a
# clean CI run on a new input that the same commit had passed before;
# exploring belongs in make fuzz, run before a change lands, and what it
# finds is committed under testdata/fuzz.
test: deps-test lint build $(RUNC_NEWEST)
	$(GO) test -count=1 -timeout 30m ./...
	cd bench && $(GO) test -count=1 -timeout 10m ./...
	cd test && CRHOOK_RUNC_NEWEST=$(RUNC_NEWEST) $(GO) test -count=1 -timeout 30m ./...

# The real-CRIU end-to-end tests, with a CRIU >= 3.18 (Debian 12 has
# 3.17): make test-criu CRIU=/path/to/criu. Here a missing or old CRIU
# fails; in make test those tests skip with one line.
test-criu: deps-test $(RUNC_NEWEST)
	@test -n "$(CRIU)" || { echo "make test-criu: set CRIU=PATH to a criu >= 3.18" >&2; exit 2; }
	@scripts/ensure-packages.sh $(CRIU_TEST_PACKAGES)
	cd test && CRIU=$(abspath $(CRIU)) CRHOOK_REQUIRE_CRIU=1 CRHOOK_RUNC_NEWEST=$(RUNC_NEWEST) $(GO) test -count=1 -timeout 20m -run 'CRIU' -v ./e2e

# A single-node cluster built from the releases' own modules, in a network
# and mount namespace of its own: the DaemonSet, the RuntimeClass, refused
# pods, CRIU (with CRIU=PATH) and the kubelet's checkpoint API, through
# kubectl. The first run builds into BUILD_CACHE; later ones reuse it.
test-kubernetes: deps-test build $(RUNC_NEWEST) kubernetes-builds
	@scripts/ensure-packages.sh $(KUBERNETES_PACKAGES)
	cd test && CRHOOK_KUBERNETES_BIN=$(KUBE_BIN) CRHOOK_CONTAINERD_BIN=$(CONTAINERD_BIN) \
		CRHOOK_RUNC_NEWEST=$(RUNC_NEWEST) CRHOOK_REQUIRE_CLUSTER=1 $(if $(CRIU),CRIU=$(abspath $(CRIU)) CRHOOK_REQUIRE_CRIU=1) \
		$(GO) test -count=1 -timeout 40m -run '^TestCluster$$' -v ./e2e

kubernetes-builds:
	@K8S_VERSION=$(KUBERNETES_VERSION) ETCD_VERSION=$(ETCD_VERSION) CONTAINERD_VERSION=$(CONTAINERD_VERSION) \
		scripts/build-kubernetes.sh $(BUILD_CACHE)

demo: deps-demo build
	@scripts/demo.sh $(BIN)/crhook

# Benchmarks are not part of `make test`: they time things. Needs root.
bench: deps-bench
	$(GO) test -run '^$$' -bench . -benchmem ./spec/... ./internal/proc/...
	cd bench && CGO_ENABLED=1 $(GO) run ./cmd/crhook-bench $(if $(CRIU),-criu $(abspath $(CRIU))) $(BENCH_FLAGS)

# FUZZTIME bounds each target's search (default 5m).
fuzz:
	@scripts/fuzz.sh $(or $(FUZZTIME),5m)

image: build
	@scripts/ensure-packages.sh podman busybox-static
	@scripts/image.sh $(BIN)/crhook $(IMAGE)

install: build
	install -D -m 0755 $(BIN)/crhook $(DESTDIR)$(PREFIX)/bin/crhook
	install -D -m 0755 $(BIN)/crhook-hook $(DESTDIR)$(PREFIX)/bin/crhook-hook
	ln -sf crhook-hook $(DESTDIR)$(PREFIX)/bin/crhook-runtime

clean:
	rm -rf $(BIN)
