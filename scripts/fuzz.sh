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

failed=""
count=0
echo "$targets" | {
	while read -r pkg name; do
		count=$((count + 1))
		echo "fuzz: $name in ./$pkg for $fuzztime"
		if ! "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" \
			-fuzzminimizetime "$minimizetime" "./$pkg"; then
			failed="$failed ./$pkg:$name"
		fi
	done
	if [ -n "$failed" ]; then
		echo "fuzz: FAILED:$failed (inputs saved under testdata/fuzz/)" >&2
		exit 1
	fi
	echo "fuzz: all $count targets passed ($fuzztime each)"
}
