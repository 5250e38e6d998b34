#!/bin/sh
# Reproduces BENCHMARKS.md "Embedded vector store: indexes": the Go
# benchmark builds the embedded store on clustered vectors and writes them
# (with its queries) to a file; hnswlib and numpy then run on that file.
#   scripts/annbench.sh                       # 100k x 1536, 6 repetitions
#   ANN_BENCH_SIZES=1000000x128 COUNT=1 scripts/annbench.sh
# Needs: apt-get install -y python3-hnswlib python3-numpy
set -eu
cd "$(dirname "$0")/.."
out=${ANN_BENCH_OUT:-${TMPDIR:-/tmp}/ragd-ann-vectors.bin}
ANN_BENCH_OUT=$out ANN_BENCH_SIZES=${ANN_BENCH_SIZES:-100000x1536} \
	go test ./search/ -run '^$' -bench BenchmarkEmbeddedIndex -benchtime 1x -count "${COUNT:-6}" -timeout 120m
/usr/bin/python3 scripts/annbench.py "$out"
rm -f "$out"
