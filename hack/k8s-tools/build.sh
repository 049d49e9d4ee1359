#!/usr/bin/env bash
# Build a living test cluster, at the versions pinned in this module's go.mod and in
# kwok/go.mod, into $OUT (default: ./bin next to this script):
#
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler  (this module)
#   kwok, the fake kubelet for fake nodes                          (kwok/, its own module)
#   kwok-stages.yaml, kwok's default node and pod stages           (read from kwok's module)
#
# agent/internal/kubetest starts them (KUBEBUILDER_ASSETS=$OUT). Modules come from the Go
# module proxy; a cold build takes 7 to 15 minutes and about 4.5 GB of GOCACHE.
#
# The build flags are fixed on purpose: changing compile flags (for example adding -trimpath)
# invalidates every cached compile action and doubles the size of GOCACHE. -ldflags only
# affect the link step.
set -euo pipefail

die() {
	echo "k8s-tools/build.sh: $*" >&2
	exit 1
}

cd "$(dirname "$0")"
HERE=$PWD
export GOWORK=off # never let a parent go.work pull these modules in
GO=${GO:-go}
OUT=${OUT:-$PWD/bin}

command -v "$GO" >/dev/null 2>&1 || die "go toolchain '$GO' not found in PATH"

KV=$("$GO" list -m -f '{{.Version}}' k8s.io/kubernetes) ||
	die "cannot resolve the k8s.io/kubernetes version from go.mod"
[[ $KV =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] ||
	die "unexpected k8s.io/kubernetes version '$KV'"
MAJ=${BASH_REMATCH[1]}
MIN=${BASH_REMATCH[2]}

VPKG=k8s.io/component-base/version
LDF="-s -w -X $VPKG.gitVersion=$KV -X $VPKG.gitMajor=$MAJ -X $VPKG.gitMinor=$MIN -X $VPKG.gitTreeState=clean"

mkdir -p "$OUT" || die "cannot create output directory $OUT"
OUT=$(cd "$OUT" && pwd)
echo "k8s-tools/build.sh: building Kubernetes $KV (apiserver, controller-manager, scheduler), etcd and kwok into $OUT" >&2
start=$SECONDS
"$GO" build -ldflags "$LDF" -o "$OUT/" \
	k8s.io/kubernetes/cmd/kube-apiserver \
	k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler ||
	die "go build of the Kubernetes binaries failed (see the output above)"
# The etcd main package is the module root go.etcd.io/etcd/server/v3, so the go command
# would name its binary "server".
"$GO" build -ldflags "$LDF" -o "$OUT/etcd" go.etcd.io/etcd/server/v3 ||
	die "go build of etcd failed (see the output above)"

# kwok keeps the k8s.io library versions it was released with, in its own module.
cd "$HERE/kwok"
KWOK=$("$GO" list -m -f '{{.Version}}' sigs.k8s.io/kwok) || die "cannot resolve the kwok version"
"$GO" build -ldflags "-s -w" -o "$OUT/kwok" sigs.k8s.io/kwok/cmd/kwok ||
	die "go build of kwok failed (see the output above)"
# The kwok binary has no stages built in: ship kwok's own defaults beside it.
KWOK_DIR=$("$GO" list -m -f '{{.Dir}}' sigs.k8s.io/kwok) || die "cannot find kwok's module directory"
{
	for st in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
		pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
		echo "---"
		cat "$KWOK_DIR/kustomize/stage/$st.yaml" || die "kwok stage $st not found in $KWOK_DIR"
	done
} >"$OUT/kwok-stages.yaml"
cd "$HERE"

for bin in kube-apiserver kube-controller-manager kube-scheduler etcd kwok; do
	[[ -x $OUT/$bin ]] || die "$OUT/$bin is missing or not executable"
done
"$OUT/kube-apiserver" --version | grep -qx "Kubernetes $KV" ||
	die "$OUT/kube-apiserver does not report version $KV"
"$OUT/kube-controller-manager" --version | grep -qx "Kubernetes $KV" ||
	die "$OUT/kube-controller-manager does not report version $KV"
"$OUT/etcd" --version >/dev/null || die "$OUT/etcd --version failed"
grep -q 'kind: Stage' "$OUT/kwok-stages.yaml" || die "$OUT/kwok-stages.yaml holds no stages"
echo "kubernetes=$KV kwok=$KWOK" >"$OUT/VERSIONS"

echo "k8s-tools/build.sh: done in $((SECONDS - start))s" >&2
