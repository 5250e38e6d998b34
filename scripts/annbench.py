#!/usr/bin/python3
"""Reference ANN figures on the vectors BenchmarkEmbeddedIndex wrote.

Reads the file named by the first argument (int32 n, queries, dims, then n
points' and the queries' float32s, little-endian; all normalised), builds
hnswlib's HNSW with the embedded store's parameters (M=16,
ef_construction=200, inner product), and prints, one line each: build
time, then for ef 128 and for the ef the store uses at this size
(efSearch in search/hnsw.go) query p50/p99 on one thread and recall@10
against the exact answer; and numpy's exact matvec p50/p99 (with
whatever BLAS numpy links).

Debian: apt-get install -y python3-hnswlib python3-numpy (run with
/usr/bin/python3, not a pyenv or venv python without them).
"""
import math
import sys
import time

import hnswlib
import numpy as np


def main(path, k=10):
    with open(path, "rb") as f:
        n, nq, dims = np.frombuffer(f.read(12), dtype="<i4")
        data = np.frombuffer(f.read(4 * n * dims), dtype="<f4").reshape(n, dims)
        queries = np.frombuffer(f.read(4 * nq * dims), dtype="<f4").reshape(nq, dims)
    print(f"points {n} dims {dims} queries {nq}")

    exact, mv = [], []
    for q in queries:
        t = time.perf_counter()
        scores = data @ q
        top = np.argpartition(-scores, k)[:k]
        mv.append(time.perf_counter() - t)
        exact.append(set(top.tolist()))
    ms = lambda xs: (1000 * np.percentile(xs, 50), 1000 * np.percentile(xs, 99))
    print("numpy exact matvec+argpartition p50 %.2f ms p99 %.2f ms" % ms(mv))

    index = hnswlib.Index(space="ip", dim=int(dims))
    index.init_index(max_elements=int(n), M=16, ef_construction=200)
    index.set_num_threads(2)
    t = time.perf_counter()
    index.add_items(data, np.arange(n))
    print("hnswlib build %.1f s (2 threads)" % (time.perf_counter() - t))
    index.set_num_threads(1)
    # The store's beam (search/hnsw.go efSearch): 128 up to 100k points,
    # then 128 * sqrt(n / 100k) rounded up to a multiple of 8.
    store_ef = 128 if n <= 100000 else 8 * math.ceil(128 * math.sqrt(n / 100000) / 8)
    for ef in sorted({128, store_ef}):
        index.set_ef(ef)
        lat, hits = [], 0
        for i, q in enumerate(queries):
            t = time.perf_counter()
            labels, _ = index.knn_query(q, k=k)
            lat.append(time.perf_counter() - t)
            hits += len(exact[i] & set(labels[0].tolist()))
        print("hnswlib M=16 efC=200 ef=%d p50 %.3f ms p99 %.3f ms recall@10 %.3f" % (ef, *ms(lat), hits / (k * len(queries))))


if __name__ == "__main__":
    main(sys.argv[1])
