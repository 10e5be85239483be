#!/bin/sh
# fuzz.sh [FUZZTIME]: run every Go fuzz target in the module, one at a
# time (go test takes one -fuzz target per package per run), each for
# FUZZTIME (default 10s; any -fuzztime value, such as 5m or 100000x).
#
# Targets are found, not listed: every `func FuzzXxx(` in a _test.go file.
# A failing input is written by go test to PKG/testdata/fuzz/FuzzXxx/;
# commit it, and it runs as a regression case in every `go test`.
# Every target runs even if one fails; the exit status is 1 if any did.
#
# FUZZMINIMIZETIME (default 5s) caps how long go test shrinks each new
# input: the real specs in the seeds are tens of KB, and go test's own
# default (60s per input) would leave a short run no time to fuzz.
set -eu

fuzztime=${1:-10s}
minimizetime=${FUZZMINIMIZETIME:-5s}
GO=${GO:-go}
PATH=/usr/local/go/bin:$PATH
export PATH

cd "$(dirname "$0")/.."

targets=$(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' \
	--exclude-dir=.git --exclude-dir=bin --exclude-dir=testdata . |
	sed -E 's|^\./(.*)/[^/]+:func (Fuzz[A-Za-z0-9_]+)\($|\1 \2|' | sort -u)

if [ -z "$targets" ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

# deadline_race LOG: the run failed only because Go 1.26's fuzz coordinator
# reported its own -fuzztime deadline as an error (go.dev/issue/75804). A
# real finding always says "Failing input written to"; anything else but
# that one bare message is a real failure.
deadline_race() {
	grep -q 'context deadline exceeded' "$1" || return 1
	grep -q 'Failing input written' "$1" && return 1
	[ "$(grep -c -e '^--- FAIL' "$1")" = 1 ] || return 1
	! grep -q -e 'panic:' -e '_test.go:[0-9]' "$1"
}

failed=""
count=0
echo "$targets" | {
	while read -r pkg name; do
		count=$((count + 1))
		echo "fuzz: $name in ./$pkg for $fuzztime"
		log=$(mktemp)
		if "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" \
			-fuzzminimizetime "$minimizetime" "./$pkg" >"$log" 2>&1; then
			cat "$log"
		elif deadline_race "$log"; then
			cat "$log"
			echo "fuzz: $name: the fuzztime deadline raced a worker (go.dev/issue/75804, fixed in Go 1.27); no failing input was found, so this counts as a pass"
		else
			cat "$log"
			failed="$failed ./$pkg:$name"
		fi
		rm -f "$log"
	done
	if [ -n "$failed" ]; then
		echo "fuzz: FAILED:$failed (inputs saved under testdata/fuzz/)" >&2
		exit 1
	fi
	echo "fuzz: all $count targets passed ($fuzztime each)"
}
