package extract

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// latinAlphabets are the letters beyond a to z of languages written in
// the Latin script, lower case, from their orthographies.
var latinAlphabets = []string{
	"àçèéíïòóúü",        // Catalan
	"áčďéěíňóřšťúůýž",   // Czech
	"æøåéèóòô",          // Danish, Norwegian
	"äöüß",              // German
	"áéíñóúü",           // Spanish
	"ĉĝĥĵŝŭ",            // Esperanto
	"äõöüšž",            // Estonian
	"äöåšž",             // Finnish
	"àâæçéèêëîïôœùûüÿ",  // French
	"čćđšž",             // Croatian, Bosnian, Serbian, Slovenian
	"áéíóöőúüű",         // Hungarian
	"áðéíóöúýþæ",        // Icelandic
	"àèéìíîòóùú",        // Italian
	"ąčęėįšųūž",         // Lithuanian
	"āčēģīķļņšūž",       // Latvian
	"ċġħż",              // Maltese
	"áéëïóöüè",          // Dutch
	"ąćęłńóśźż",         // Polish
	"áâãàçéêíóôõú",      // Portuguese
	"ăâîșțşţ",           // Romanian
	"áäčďéíĺľňóôŕšťúýž", // Slovak
	"çë",                // Albanian
	"åäöé",              // Swedish
	"çğıöşüâî",          // Turkish
	"âêîôûŵŷ",           // Welsh
}

// latinCharsets are the single-byte charsets of Latin-script text that
// guessLatin weighs, the Western one first.
var latinCharsets = []string{"windows-1252", "windows-1250", "iso-8859-2", "windows-1254", "iso-8859-3", "iso-8859-13", "iso-8859-15"}

// latinFit is the share of s's characters beyond ASCII that one
// language's alphabet holds, for the language that holds most, and how
// many such characters s has. They are its letters, and the other
// characters that stand in words (not punctuation): a charset read wrong
// puts symbols there (Croatian's š as ¹ in Latin-1).
func latinFit(s string) (float64, int) {
	rs := []rune(s)
	isLetter := func(i int) bool { return i >= 0 && i < len(rs) && unicode.IsLetter(rs[i]) }
	counts := map[rune]int{}
	n := 0
	for i, r := range rs {
		if r < utf8.RuneSelf {
			continue
		}
		inWord := !unicode.IsPunct(r) && !unicode.IsSpace(r) && (isLetter(i-1) || isLetter(i+1))
		if unicode.IsLetter(r) || inWord {
			counts[unicode.ToLower(r)]++
			n++
		}
	}
	if n == 0 {
		return 1, 0
	}
	best := 0
	for _, alphabet := range latinAlphabets {
		held := 0
		for r, c := range counts {
			if strings.ContainsRune(alphabet, r) {
				held += c
			}
		}
		best = max(best, held)
	}
	return float64(best) / float64(n), n
}

// guessLatin decodes data in the Latin-script charset whose reading of
// its sample uses the letters of one language's alphabet, when Latin-1's
// reading does not: read in the wrong one of these charsets, the letters
// beyond ASCII come out as a mix no language writes (Croatian's č, ć, đ
// as è, æ, ð). ok is false when no reading fits clearly better than
// Latin-1's (by a tenth, and at 0.95 at least), or has fewer than five
// such letters to judge by.
func guessLatin(data, sample []byte) (string, bool) {
	base, _ := latinFit(latin1(sample))
	best, bestFit := "", base+0.1
	for _, cs := range latinCharsets {
		s, ok := decodeCharset(sample, cs)
		if !ok {
			continue
		}
		if fit, m := latinFit(s); m >= 5 && fit >= 0.95 && fit > bestFit {
			best, bestFit = cs, fit
		}
	}
	if best == "" {
		return "", false
	}
	s, ok := decodeCharset(data, best)
	return s, ok && strings.Count(s, "\uFFFD") <= utf8.RuneCountInString(s)/100
}

// latin1 reads each byte as the code point of its value.
func latin1(data []byte) string {
	var b strings.Builder
	b.Grow(len(data) + len(data)/8)
	for _, c := range data {
		b.WriteRune(rune(c))
	}
	return b.String()
}
