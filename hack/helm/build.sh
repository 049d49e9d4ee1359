#!/usr/bin/env bash
# Build the helm CLI, at the version pinned in this module's go.mod, into $OUT
# (default: ./bin next to this script).
#
# `make helm-check` and the chart tests under agent/deploytest use this binary to
# lint and render deploy/charts. Modules come from the Go module proxy.
#
# The version variables helm reports (`helm version`, and the Kubernetes version
# that `helm template` and `helm lint` assume) are set through -ldflags, the way
# helm's own release build sets them; -ldflags only affect the link step.
set -euo pipefail

die() {
	echo "helm/build.sh: $*" >&2
	exit 1
}

cd "$(dirname "$0")"
export GOWORK=off # never let a parent go.work pull this module in
GO=${GO:-go}
OUT=${OUT:-$PWD/bin}

command -v "$GO" >/dev/null 2>&1 || die "go toolchain '$GO' not found in PATH"

HV=$("$GO" list -m -f '{{.Version}}' helm.sh/helm/v3) ||
	die "cannot resolve the helm.sh/helm/v3 version from go.mod"
[[ $HV =~ ^v3\.[0-9]+\.[0-9]+$ ]] || die "unexpected helm.sh/helm/v3 version '$HV'"

# helm assumes Kubernetes 1.N where client-go is v0.N (its Makefile does the same).
CV=$("$GO" list -m -f '{{.Version}}' k8s.io/client-go) ||
	die "cannot resolve the k8s.io/client-go version from go.mod"
[[ $CV =~ ^v0\.([0-9]+)\.[0-9]+$ ]] || die "unexpected k8s.io/client-go version '$CV'"
KMIN=${BASH_REMATCH[1]}

H=helm.sh/helm/v3
LDF="-s -w -X $H/internal/version.version=$HV -X $H/internal/version.gitTreeState=clean"
for pkg in pkg/chartutil pkg/lint/rules; do
	LDF+=" -X $H/$pkg.k8sVersionMajor=1 -X $H/$pkg.k8sVersionMinor=$KMIN"
done

mkdir -p "$OUT" || die "cannot create output directory $OUT"
echo "helm/build.sh: building helm $HV into $OUT" >&2
start=$SECONDS
"$GO" build -ldflags "$LDF" -o "$OUT/helm" "$H/cmd/helm" ||
	die "go build failed (see the output above)"

[[ -x $OUT/helm ]] || die "$OUT/helm is missing or not executable"
got=$("$OUT/helm" version --template '{{.Version}}') || die "$OUT/helm version failed"
[[ $got == "$HV" ]] || die "$OUT/helm reports version '$got', want $HV"

echo "helm/build.sh: done in $((SECONDS - start))s" >&2
