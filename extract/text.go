package extract

import (
	"bytes"
	"context"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gogs/chardet"
	"golang.org/x/text/encoding/htmlindex"
)

// decodeText turns bytes into UTF-8: UTF-8 (a BOM is dropped), UTF-16 with
// a byte order mark, or, when the bytes are not UTF-8, the legacy charset
// guessCharset finds (a Big5 or Shift_JIS CSV, a windows-1251 text), else
// Latin-1 (every byte is a character there, so this never loses text). It fails with
// invalid_encoding on UTF-16 of odd length or with NUL bytes elsewhere.
func decodeText(data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		if len(data)%2 != 0 {
			return "", fail(CodeInvalidEncoding, "the file starts like UTF-16 but has an odd number of bytes")
		}
		u := make([]uint16, 0, len(data)/2-1)
		for i := 2; i+1 < len(data); i += 2 {
			if data[0] == 0xFF {
				u = append(u, uint16(data[i])|uint16(data[i+1])<<8)
			} else {
				u = append(u, uint16(data[i])<<8|uint16(data[i+1]))
			}
		}
		return string(utf16.Decode(u)), nil
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return "", fail(CodeInvalidEncoding, "the file has NUL bytes: it is binary, or UTF-16 without a byte order mark")
	}
	if utf8.Valid(data) {
		return string(data), nil
	}
	if s, ok := guessCharset(data); ok {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(data) + len(data)/8)
	for _, c := range data {
		b.WriteRune(rune(c)) // Latin-1 maps each byte to the code point of its value
	}
	return b.String(), nil
}

// extractText reads plain text: paragraphs are separated by blank lines;
// single line breaks inside a paragraph are kept as lines.
func extractText(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	s, err := decodeText(data)
	if err != nil {
		return Extracted{}, err
	}
	b := newBuilder(lim.MaxTextBytes)
	for i, para := range splitParagraphs(s) {
		if i%256 == 0 && ctx.Err() != nil {
			return Extracted{}, ctx.Err()
		}
		b.lines(strings.Split(para, "\n"))
	}
	return b.result()
}

// splitParagraphs splits text at blank lines (CRLF and CR normalised).
func splitParagraphs(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var out []string
	var cur []string
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, strings.Join(cur, "\n"))
				cur = cur[:0]
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, "\n"))
	}
	return out
}

// charsetSample is how much of a text guessCharset looks at.
const charsetSample = 64 << 10

// guessCharset decodes data, which is not UTF-8, from the legacy charset
// chardet finds most likely in its first charsetSample bytes, when
// chardet is at least half sure and at most one character in a hundred
// of the result is U+FFFD (a byte sequence the charset has no character
// for, so a wrong guess). ok is false otherwise.
func guessCharset(data []byte) (string, bool) {
	r, err := chardet.NewTextDetector().DetectBest(data[:min(len(data), charsetSample)])
	if err != nil || r.Confidence < 50 || strings.HasPrefix(strings.ToUpper(r.Charset), "UTF-") {
		return "", false
	}
	s, ok := decodeCharset(data, r.Charset)
	if !ok || strings.Count(s, "\uFFFD") > utf8.RuneCountInString(s)/100 {
		return "", false
	}
	return s, true
}

// decodeCharset decodes data from the charset named cs (a WHATWG label:
// "big5", "shift_jis", "iso-8859-1", which means windows-1252).
func decodeCharset(data []byte, cs string) (string, bool) {
	enc, err := htmlindex.Get(strings.ToLower(strings.TrimSpace(cs)))
	if err != nil {
		return "", false
	}
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		return "", false
	}
	return string(out), true
}
