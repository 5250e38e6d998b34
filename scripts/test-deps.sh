#!/usr/bin/env bash
# Installs the tools the tests compare against or generate fixtures with:
# poppler's pdftotext (the reference for PDF text), qpdf (encrypts test
# PDFs), bash-doc (real manuals as PDFs, one with object streams),
# Chromium (the job dashboard's browser test), and curl and jq (the
# README's and docs' commands, run by cmd/ragctl's tests), and tesseract
# with its English data (OCR of images and scanned pages; pdftoppm, of
# poppler-utils, renders the pages). Debian's packages; idempotent.
set -euo pipefail
missing=()
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
command -v qpdf >/dev/null 2>&1 || missing+=(qpdf)
[ -e /usr/share/doc/bash-doc/bashref.pdf ] || missing+=(bash-doc)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)
ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1 || missing+=(tesseract-ocr-eng)
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "test-deps: installing ${missing[*]}" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
else
  echo "test-deps: please install ${missing[*]} (poppler, qpdf, bash-doc, chromium, curl, jq, tesseract with English)" >&2
  exit 1
fi
