#!/usr/bin/env bash
# Build kube-apiserver and etcd, at the versions pinned in this module's
# go.mod, into $OUT (default: ./bin next to this script).
#
# The binaries are the control plane that the agent integration tests start
# through envtest (KUBEBUILDER_ASSETS=$OUT). Modules come from the Go module
# proxy; a cold build takes several minutes and about 2.5 GB of memory.
#
# The build flags are fixed on purpose: changing compile flags (for example
# adding -trimpath) invalidates every cached compile action and doubles the
# size of GOCACHE. -ldflags only affect the link step.
set -euo pipefail

die() {
	echo "k8s-tools/build.sh: $*" >&2
	exit 1
}

cd "$(dirname "$0")"
export GOWORK=off # never let a parent go.work pull this module in
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
echo "k8s-tools/build.sh: building kube-apiserver $KV and etcd into $OUT" >&2
start=$SECONDS
"$GO" build -ldflags "$LDF" -o "$OUT/" \
	k8s.io/kubernetes/cmd/kube-apiserver \
	go.etcd.io/etcd/server/v3 ||
	die "go build failed (see the output above)"

# The etcd main package is the module root go.etcd.io/etcd/server/v3, so the
# go command names its binary "server".
[[ -f $OUT/server ]] || die "expected etcd binary $OUT/server was not produced"
mv -f "$OUT/server" "$OUT/etcd"

for bin in kube-apiserver etcd; do
	[[ -x $OUT/$bin ]] || die "$OUT/$bin is missing or not executable"
done
"$OUT/kube-apiserver" --version | grep -qx "Kubernetes $KV" ||
	die "$OUT/kube-apiserver does not report version $KV"
"$OUT/etcd" --version >/dev/null || die "$OUT/etcd --version failed"

echo "k8s-tools/build.sh: done in $((SECONDS - start))s" >&2
