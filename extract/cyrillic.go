package extract

import (
	"math"
	"unicode"

	"golang.org/x/text/encoding/charmap"
)

// cyrillicCharsets are the single-byte charsets Cyrillic text was kept in:
// Windows, KOI8 (KOI8-U puts Ukrainian letters at ten of KOI8-R's
// box-drawing bytes; see koi8), DOS and ISO.
// They place the same letters at different bytes, so text read in the
// wrong one is still all Cyrillic letters, in the wrong order of
// frequency.
var cyrillicCharsets = []*charmap.Charmap{charmap.Windows1251, charmap.KOI8R, charmap.KOI8U, charmap.CodePage866, charmap.ISO8859_5}

// cyrillicFreq is how often each letter of the Russian alphabet occurs in
// text, per thousand letters (а to я, then ё): the usual table, from the
// Russian National Corpus (Wikipedia's "Russian alphabet" gives it).
// Ukrainian and Bulgarian letters count as their nearest Russian one
// (cyrillicFold). Belarusian text scores under the bar (about 0.76), and
// Serbian and Macedonian letters outside the table (љ, њ, ђ, ћ, џ, ѓ, ќ)
// do not count.
var cyrillicFreq = [33]float64{
	80.1, 15.9, 45.4, 17.0, 29.8, 84.5, 9.4, 16.5, 73.5, 12.1, 34.9, 44.0, 32.1, 67.0, 109.7, 28.1,
	47.3, 54.7, 62.6, 26.2, 2.6, 9.7, 4.8, 14.4, 7.3, 3.6, 0.4, 19.0, 17.4, 3.2, 6.4, 20.1, 0.4,
}

// cyrillicFold maps a lower-case Cyrillic letter to its index in
// cyrillicFreq, or -1.
func cyrillicFold(r rune) int {
	switch {
	case r >= 'а' && r <= 'я':
		return int(r - 'а')
	case r == 'ё':
		return 32
	case r == 'і', r == 'ї': // Ukrainian, Belarusian і; Ukrainian ї
		return int('и' - 'а')
	case r == 'є':
		return int('е' - 'а')
	case r == 'ґ':
		return int('г' - 'а')
	case r == 'ў':
		return int('у' - 'а')
	}
	return -1
}

// guessCyrillic returns the single-byte Cyrillic charset that sample, not
// UTF-8, reads best in, or nil when it does not read as Cyrillic text in
// any: read in its charset, natural text is mostly Cyrillic letters
// (at least half of all letters, and at least 30), mostly lower case, with
// letter frequencies close to the language's (cosine at least 0.85);
// read in another, its letters come out in a shuffled order of frequency
// and mostly in the wrong case, and Latin text read in any of them has
// few Cyrillic letters.
func guessCyrillic(sample []byte) *charmap.Charmap {
	var best *charmap.Charmap
	bestScore := 0.0
	for _, cs := range cyrillicCharsets {
		if score := cyrillicScore(cs, sample); score > bestScore {
			best, bestScore = cs, score
		}
	}
	if bestScore < 0.85 {
		return nil
	}
	if best == charmap.KOI8R || best == charmap.KOI8U {
		return koi8(sample)
	}
	return best
}

// koi8 tells KOI8-U from KOI8-R by the ten bytes where they differ
// (Ukrainian letters, box drawing in KOI8-R): KOI8-U when most of those
// bytes stand between letters, as letters in words do; KOI8-R otherwise.
func koi8(sample []byte) *charmap.Charmap {
	isLetter := func(b byte) bool { return unicode.IsLetter(charmap.KOI8U.DecodeByte(b)) }
	inWords, seen := 0, 0
	for i, b := range sample {
		if charmap.KOI8R.DecodeByte(b) == charmap.KOI8U.DecodeByte(b) {
			continue
		}
		seen++
		if i > 0 && isLetter(sample[i-1]) || i+1 < len(sample) && isLetter(sample[i+1]) {
			inWords++
		}
	}
	if seen > 0 && 2*inWords > seen {
		return charmap.KOI8U
	}
	return charmap.KOI8R
}

// cyrillicScore is how much sample, read in cs, looks like Cyrillic
// prose: the cosine of its letter frequencies with cyrillicFreq, or 0
// when it is not mostly lower-case Cyrillic letters.
func cyrillicScore(cs *charmap.Charmap, sample []byte) float64 {
	var counts [33]float64
	var letters, cyrillic, lower int
	for _, b := range sample {
		r := cs.DecodeByte(b)
		if !unicode.IsLetter(r) {
			continue
		}
		letters++
		if !unicode.Is(unicode.Cyrillic, r) {
			continue
		}
		cyrillic++
		if unicode.IsLower(r) {
			lower++
		}
		if i := cyrillicFold(unicode.ToLower(r)); i >= 0 {
			counts[i]++
		}
	}
	if cyrillic < 30 || 2*cyrillic < letters || 2*lower < cyrillic {
		return 0
	}
	var dot, a, b float64
	for i, c := range counts {
		dot += c * cyrillicFreq[i]
		a += c * c
		b += cyrillicFreq[i] * cyrillicFreq[i]
	}
	if a == 0 { // Cyrillic letters, none of them in the table
		return 0
	}
	return dot / math.Sqrt(a*b)
}
