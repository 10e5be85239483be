#!/bin/sh
# build-kubernetes.sh CACHE: build, from their Go modules, what make
# test-kubernetes runs, into CACHE, skipping what is there already. The
# Makefile names the versions (K8S_VERSION, ETCD_VERSION,
# CONTAINERD_VERSION); test/kubernetes/build/go.mod pins Kubernetes' and
# etcd's modules to them.
#   CACHE/kubernetes-K8S_VERSION/    kube-apiserver kube-controller-manager
#                                    kube-scheduler kubelet kubectl etcd
#   CACHE/containerd-CONTAINERD_VERSION/  containerd containerd-shim-runc-v2 ctr
# No prebuilt binary is downloaded: only modules, through the Go proxy.
set -eu
cache=$1
: "${K8S_VERSION:?set by make}" "${ETCD_VERSION:?set by make}" "${CONTAINERD_VERSION:?set by make}"
cd "$(dirname "$0")/.."

for pin in "k8s.io/kubernetes $K8S_VERSION" "go.etcd.io/etcd/server/v3 $ETCD_VERSION"; do
	grep -q "	$pin" test/kubernetes/build/go.mod || {
		echo "build-kubernetes: test/kubernetes/build/go.mod does not pin $pin" >&2
		exit 2
	}
done
k8s="$cache/kubernetes-$K8S_VERSION"
mkdir -p "$k8s"
# What kubectl version and the API server report (hack/lib/version.sh).
v=$K8S_VERSION
major=$(echo "$v" | sed 's/^v\([0-9]*\)\..*/\1/')
minor=$(echo "$v" | sed 's/^v[0-9]*\.\([0-9]*\)\..*/\1/')
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags="$ldflags -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
	[ -x "$k8s/$cmd" ] && continue
	echo "build-kubernetes: $cmd $v"
	(cd test/kubernetes/build && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$k8s/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
	mv "$k8s/$cmd.tmp" "$k8s/$cmd"
done
if [ ! -x "$k8s/etcd" ]; then
	echo "build-kubernetes: etcd $ETCD_VERSION (its server module, the version $v supports)"
	(cd test/kubernetes/build && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$k8s/etcd.tmp" go.etcd.io/etcd/server/v3)
	mv "$k8s/etcd.tmp" "$k8s/etcd"
fi

ctrd="$cache/containerd-$CONTAINERD_VERSION"
mkdir -p "$ctrd"
for cmd in containerd containerd-shim-runc-v2 ctr; do
	[ -x "$ctrd/$cmd" ] && continue
	echo "build-kubernetes: $cmd $CONTAINERD_VERSION"
	GOBIN="$ctrd" go install -tags no_btrfs "github.com/containerd/containerd/v2/cmd/$cmd@$CONTAINERD_VERSION"
done
