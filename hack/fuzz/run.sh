#!/usr/bin/env bash
# Run every native Go fuzz target of the module for FUZZTIME each (default 10s), one after
# the other, and print the executions of each. The seed corpora (f.Add and testdata/fuzz)
# already run with every `go test`; this explores beyond them. A crash fails the run and
# leaves its input in the package's testdata/fuzz/<target>/, to be committed as a
# regression test. Usage: hack/fuzz/run.sh [packages...] (default ./...)
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZTIME=${FUZZTIME:-10s}
GO=${GO:-go}
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
status=0
while read -r pkg; do
	targets=$("$GO" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	for target in $targets; do
		echo "== $pkg $target ($FUZZTIME)"
		if ! out=$("$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1); then
			# go test may end a slow target with "context deadline exceeded" when FUZZTIME runs
			# out while an input is still running; that is no finding. A finding always comes
			# with its input written to testdata/fuzz.
			if grep -q 'Failing input written to' <<<"$out" || ! grep -q 'context deadline exceeded' <<<"$out"; then
				echo "$out"
				status=1
				continue
			fi
			echo "(time ran out while an input was running: no finding)"
		fi
		echo "$out" | grep -E '^fuzz: elapsed' | tail -1
	done
done < <("$GO" list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' "${pkgs[@]}" | sed '/^$/d' |
	while read -r p; do grep -lq 'func Fuzz' $("$GO" list -f '{{range .TestGoFiles}}{{$.Dir}}/{{.}} {{end}}{{range .XTestGoFiles}}{{$.Dir}}/{{.}} {{end}}' "$p") 2>/dev/null && echo "$p"; done)
exit $status
