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
	return latin1(data), nil
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
// it most likely is, judged on its first charsetSample bytes; ok is false
// when no guess is good enough (the caller reads Latin-1 then).
//
//  1. Single-byte Cyrillic charsets, by their letters' frequencies
//     (guessCyrillic): chardet knows no DOS charset, tells KOI8-U from
//     KOI8-R badly, and gives Cyrillic text under one half.
//  2. chardet's best, when chardet is at least half sure, or at least a
//     quarter sure and twice as sure as of the next: Russian and Czech
//     scored just under one half with nothing else near.
//  3. Latin-script charsets, by whether their reading uses one language's
//     alphabet where Latin-1's does not (guessLatin): Croatian, Slovak,
//     Polish, Baltic and Turkish text that chardet was unsure of.
//
// Measured on vimtutor's lessons (TestLegacyCharsetsOfVimTutor) and on
// pieces of man pages and message catalogues in their legacy charsets. A
// result with more than one U+FFFD in a hundred characters (byte
// sequences the charset has no character for) is a wrong guess.
func guessCharset(data []byte) (string, bool) {
	sample := data[:min(len(data), charsetSample)]
	if enc := guessCyrillic(sample); enc != nil {
		if out, err := enc.NewDecoder().Bytes(data); err == nil {
			return string(out), true
		}
	}
	all, err := chardet.NewTextDetector().DetectAll(sample)
	if err == nil && len(all) > 0 && !strings.HasPrefix(strings.ToUpper(all[0].Charset), "UTF-") {
		best, next := all[0], 0
		if len(all) > 1 {
			next = all[1].Confidence
		}
		if best.Confidence >= 50 || best.Confidence >= 25 && best.Confidence >= 2*next {
			s, ok := decodeCharset(data, best.Charset)
			return s, ok && strings.Count(s, "\uFFFD") <= utf8.RuneCountInString(s)/100
		}
	}
	return guessLatin(data, sample)
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
