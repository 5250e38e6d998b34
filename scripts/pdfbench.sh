#!/usr/bin/env bash
# PDF extraction against poppler's pdftotext on real PDFs (BENCHMARKS.md,
# "PDF extraction"). Runs BenchmarkPDFCorpus on the files RAGD_BENCH_PDFS
# names (default: the 14 Debian manuals of r-doc-pdf, bash-doc,
# gnuplot-doc and asymptote-doc), saves the raw output, and prints per
# file the median pages/s of pdftotext, Extract (all cores) and Extract1
# (one thread), the ratios to pdftotext in the same run, and Extract's
# word recall against pdftotext; then the total: all pages over the sum of
# the files' median times, as if each file were extracted once in turn.
#
#   scripts/pdfbench.sh [out.txt]          run (COUNT=6 runs per benchmark) and summarise
#   scripts/pdfbench.sh -summary out.txt   summarise a saved run
set -euo pipefail

summarise() {
  awk '
    $1 ~ /^BenchmarkPDFCorpus\// && $1 !~ /\/All\// {
      split($1, p, "/"); file = p[2]; v = p[3]; sub(/-[0-9]+$/, "", v)
      for (i = 2; i < NF; i++) {
        if ($(i+1) == "ns/op") ns[file, v, ++n[file, v]] = $i
        if ($(i+1) == "pages/s") pps[file, v, n[file, v]] = $i
        if ($(i+1) == "recall") rec[file] = $i
      }
      files[file] = 1; vars[v] = 1
    }
    function median(file, v,    k, m, a, i, j, t) {
      m = n[file, v]; if (m == 0) return 0
      for (i = 1; i <= m; i++) a[i] = pps[file, v, i]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    END {
      printf "1 %-12s %6s %10s %10s %7s %10s %7s %7s\n", "file", "pages", "pdftotext", "Extract", "ratio", "Extract1", "ratio", "recall"
      for (f in files) {
        pages = pps[f, "pdftotext", 1] * ns[f, "pdftotext", 1] / 1e9
        pages = int(pages + 0.5); tp += pages
        base = median(f, "pdftotext"); e = median(f, "Extract"); e1 = median(f, "Extract1")
        tb += pages / base; if (e) te += pages / e; if (e1) te1 += pages / e1; else no1 = 1
        printf "2 %-12s %6d %10.1f %10.1f %6.2fx %10s %7s %7.4f\n", f, pages, base, e, e / base,
          e1 ? sprintf("%.1f", e1) : "-", e1 ? sprintf("%.2fx", e1 / base) : "-", rec[f]
      }
      printf "3 %-12s %6d %10.1f %10.1f %6.2fx %10s %7s\n", "total", tp, tp / tb, tp / te, tb / te,
        no1 ? "-" : sprintf("%.1f", tp / te1), no1 ? "-" : sprintf("%.2fx", tb / te1)
    }' "$1" | sort -k1,1n -k2,2 | cut -c3-
}

case "${1:-}" in
-summary)
  summarise "$2"
  exit 0
  ;;
esac

out=${1:-pdfcorpus.txt}
: "${RAGD_BENCH_PDFS:=/usr/share/doc/r-doc-pdf/manual/*.pdf /usr/share/doc/bash-doc/*.pdf /usr/share/doc/gnuplot/gnuplot.pdf /usr/share/doc/asymptote/asymptote.pdf /usr/share/doc/asymptote/asy-latex.pdf /usr/share/doc/asymptote/asyRefCard.pdf}"
export RAGD_BENCH_PDFS
cd "$(dirname "$0")/.."
go test ./extract/ -run '^$' -bench 'BenchmarkPDFCorpus/^[^A]' -count "${COUNT:-6}" -timeout 3h | tee "$out"
summarise "$out"
