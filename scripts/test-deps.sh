#!/usr/bin/env bash
# Installs the tools the tests compare against or generate fixtures with:
# poppler's pdftotext (the reference for PDF text), qpdf (encrypts test
# PDFs), bash-doc (real manuals as PDFs, one with object streams),
# Chromium (the job dashboard's browser test), and curl and jq (the
# README's and docs' commands, run by cmd/ragctl's tests), and tesseract
# with its English data (OCR of images and scanned pages; pdftoppm, of
# poppler-utils, renders the pages), and vim-runtime (vimtutor's lessons,
# one text in many legacy charsets and in UTF-8, for charset detection):
# Debian's packages. Then axe-core, the
# accessibility rules the console's browser tests run in Chromium, from the
# npm registry at the version console/testdata/axe-core.pin names, into the
# user cache (never the repository). Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
missing=()
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
command -v qpdf >/dev/null 2>&1 || missing+=(qpdf)
[ -e /usr/share/doc/bash-doc/bashref.pdf ] || missing+=(bash-doc)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)
ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1 || missing+=(tesseract-ocr-eng)
command -v npm >/dev/null 2>&1 || missing+=(npm)
ls /usr/share/vim/vim*/tutor/tutor.ru.utf-8 >/dev/null 2>&1 || missing+=(vim-runtime)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    echo "test-deps: installing ${missing[*]}" >&2
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "test-deps: please install ${missing[*]} (poppler, qpdf, bash-doc, chromium, curl, jq, tesseract with English, npm, vim-runtime)" >&2
    exit 1
  fi
fi

# axe-core: npm pack fetches the pinned tarball, whose digest must be the
# pin's; only axe.min.js (and its licence) is kept, in the directory
# console/a11y_test.go looks in (Go's os.UserCacheDir).
read -r _ axe_version axe_integrity < <(grep -v '^#' "$root/console/testdata/axe-core.pin")
axe_dir="${XDG_CACHE_HOME:-$HOME/.cache}/ragd/axe-core-$axe_version"
if [ ! -s "$axe_dir/axe.min.js" ]; then
  echo "test-deps: fetching axe-core $axe_version" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "axe-core@$axe_version" >/dev/null)
  tgz="$tmp/axe-core-$axe_version.tgz"
  got=$(node -e 'process.stdout.write("sha512-" + require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tgz")
  if [ "$got" != "$axe_integrity" ]; then
    echo "test-deps: axe-core $axe_version's tarball is $got, the pin says $axe_integrity" >&2
    exit 1
  fi
  tar -xzf "$tgz" -C "$tmp" package/axe.min.js package/LICENSE
  mkdir -p "$(dirname "$axe_dir")"
  rm -rf "$axe_dir.new" && mv "$tmp/package" "$axe_dir.new" && mv "$axe_dir.new" "$axe_dir"
fi
