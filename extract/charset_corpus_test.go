package extract

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// vimTutorDir is where Debian's vim-runtime keeps vimtutor's lessons: the
// same text in many languages, each in legacy charsets beside UTF-8
// (tutor.ru in KOI8-R, tutor.ru.cp1251, tutor.ru.utf-8, ...).
func vimTutorDir(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/share/vim/vim*/tutor")
	if len(dirs) == 0 {
		t.Fatal("no /usr/share/vim/vim*/tutor: install Debian's vim-runtime (scripts/test-deps.sh does)")
	}
	return dirs[len(dirs)-1]
}

// legacyTutors pairs each lesson in a legacy charset with its UTF-8 text.
func legacyTutors(t *testing.T) map[string]string {
	t.Helper()
	dir := vimTutorDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "tutor.*"))
	out := map[string]string{}
	for _, f := range files {
		name := filepath.Base(f)
		parts := strings.Split(name, ".") // tutor, lang[, charset]
		if len(parts) < 2 || len(parts) > 3 || strings.HasSuffix(name, ".utf-8") || strings.HasSuffix(name, ".vim") {
			continue
		}
		utf8File := filepath.Join(dir, parts[0]+"."+parts[1]+".utf-8")
		data, err := os.ReadFile(f)
		if _, serr := os.Stat(utf8File); err == nil && serr == nil && !utf8.Valid(data) {
			out[f] = utf8File
		}
	}
	return out
}

// TestLegacyCharsetsOfVimTutor decodes every lesson kept in a legacy
// charset and compares it, line by line, with the same lesson in UTF-8.
func TestLegacyCharsetsOfVimTutor(t *testing.T) {
	t.Parallel()
	pairs := legacyTutors(t)
	names := make([]string, 0, len(pairs))
	for f := range pairs {
		names = append(names, f)
	}
	sort.Strings(names)
	// The lessons read wrong, and why: charsets chardet does not know and
	// mistakes for Latin-1 with confidence (Greek DOS, Latin-3), and
	// tutor.zh.euc, whose UTF-8 twin is another text (the traditional one).
	knownWrong := map[string]bool{"tutor.el.cp737": true, "tutor.eo": true, "tutor.zh.euc": true}
	right := 0
	for _, f := range names {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(pairs[f])
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeText(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		share := sameLines(got, string(want))
		name := filepath.Base(f)
		switch {
		case share >= 0.99:
			right++
			if knownWrong[name] {
				t.Logf("%s now reads right: take it off knownWrong", name)
			}
		case !knownWrong[name]:
			t.Errorf("%s: %.1f%% of its lines right, want 99%%", name, 100*share)
		}
		t.Logf("%-18s %5.1f%% of lines as in %s", name, 100*share, filepath.Base(pairs[f]))
	}
	// 22 of 34 before Cyrillic was read by its letters, chardet's runner-up
	// counted and Latin-script text by its alphabet.
	t.Logf("%d of %d lessons decoded with at least 99%% of their lines right", right, len(names))
	if len(names) < 30 {
		t.Fatalf("only %d legacy lessons in %s", len(names), vimTutorDir(t))
	}
}

// sameLines is the share of want's lines that got has at the same place.
func sameLines(got, want string) float64 {
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	same := 0
	for i := range min(len(gl), len(wl)) {
		if gl[i] == wl[i] {
			same++
		}
	}
	return float64(same) / float64(len(wl))
}

// encodeLossy encodes s in cs, each character cs has not as '?', and
// returns the bytes and s as they read back.
func encodeLossy(cs *charmap.Charmap, s string) ([]byte, string) {
	var out []byte
	var back strings.Builder
	for _, r := range s {
		b, ok := cs.EncodeRune(r)
		if !ok {
			b, r = '?', '?'
		}
		out = append(out, b)
		back.WriteRune(r)
	}
	return out, back.String()
}

// TestCyrillicCharsetsOfVimTutor: the Russian, Ukrainian and Bulgarian
// lessons, put in each single-byte Cyrillic charset, read back right; no
// lesson in another script reads as Cyrillic.
func TestCyrillicCharsetsOfVimTutor(t *testing.T) {
	t.Parallel()
	dir := vimTutorDir(t)
	for _, lang := range []string{"ru", "uk", "bg"} {
		text, err := os.ReadFile(filepath.Join(dir, "tutor."+lang+".utf-8"))
		if err != nil {
			t.Fatal(err)
		}
		for _, cs := range []*charmap.Charmap{charmap.Windows1251, charmap.KOI8R, charmap.KOI8U, charmap.CodePage866, charmap.ISO8859_5} {
			data, want := encodeLossy(cs, string(text))
			got, err := decodeText(data)
			if err != nil {
				t.Fatal(err)
			}
			if share := sameLines(got, want); share < 0.99 {
				t.Errorf("tutor.%s in %s: %.1f%% of lines right, want 99%%", lang, cs, 100*share)
			}
			// Pieces of 20 lines, as a short text file: read right by
			// themselves, or as Latin-1 (too little to tell), never
			// as another Cyrillic charset.
			lines := strings.Split(string(text), "\n")
			pieces, right := 0, 0
			for i := 0; i+20 <= len(lines); i += 20 {
				data, want := encodeLossy(cs, strings.Join(lines[i:i+20], "\n"))
				if utf8.Valid(data) {
					continue
				}
				pieces++
				got, err := decodeText(data)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case got == want:
					right++
				case guessCyrillic(data) != nil:
					t.Errorf("tutor.%s in %s, lines %d to %d: read as Cyrillic, but wrong:\n%s", lang, cs, i+1, i+20, got)
				}
			}
			if 10*right < 8*pieces {
				t.Errorf("tutor.%s in %s: %d of %d pieces of 20 lines right, want 80%%", lang, cs, right, pieces)
			}
			t.Logf("tutor.%s in %s: %d of %d pieces of 20 lines right", lang, cs, right, pieces)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "tutor.*"))
	checked := 0
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "tutor.ru") || strings.HasPrefix(name, "tutor.uk") || strings.HasPrefix(name, "tutor.bg") ||
			strings.HasSuffix(name, ".vim") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		if cs := guessCyrillic(data[:min(len(data), charsetSample)]); cs != nil {
			t.Errorf("%s reads as Cyrillic in %s", name, cs)
		}
	}
	if checked < 20 {
		t.Fatalf("only %d lessons in other scripts", checked)
	}
}

// TestKOI8BoxDrawing: KOI8-R text framed with box drawing reads as KOI8-R
// (KOI8-U has Ukrainian letters at ten of those bytes; Ukrainian text in
// KOI8-U reads as KOI8-U in TestCyrillicCharsetsOfVimTutor).
func TestKOI8BoxDrawing(t *testing.T) {
	t.Parallel()
	ru := strings.Repeat("╔══════════════════════════════════╗\n║ Отчёт о работе отдела за квартал ║\n╚══════════════════════════════════╝\n"+
		"В этом квартале отдел закончил перевод документации на новую систему и обучил сотрудников.\n", 4)
	data, want := encodeLossy(charmap.KOI8R, ru)
	if want != ru {
		t.Fatal("the text is not all in KOI8-R")
	}
	if got, err := decodeText(data); err != nil || got != strings.TrimSpace(ru) && got != ru {
		t.Fatalf("KOI8-R with boxes read as:\n%s", got)
	}
}

// TestGuessLatin: a reading that spells with one language's alphabet wins
// over Latin-1's only when Latin-1's does not, and on enough letters.
func TestGuessLatin(t *testing.T) {
	t.Parallel()
	hr := strings.Repeat("Čitač će otvoriti datoteku; đak piše šest rečenica o žutom suncu. ", 3)
	for _, cs := range []*charmap.Charmap{charmap.Windows1250, charmap.ISO8859_2} {
		data, want := encodeLossy(cs, hr)
		if want != hr {
			t.Fatalf("the Croatian text is not all in %s", cs)
		}
		if got, ok := guessLatin(data, data); !ok || got != hr {
			t.Errorf("Croatian in %s: %q, %v", cs, got, ok)
		}
	}
	for name, text := range map[string]string{
		"French":      strings.Repeat("L'élève a noté à côté de la fenêtre qu'il était très ému. ", 3),
		"Few letters": "Das Café am Fluss öffnet um acht.",
		"ASCII":       "plain text, nothing beyond ASCII",
	} {
		data, _ := encodeLossy(charmap.ISO8859_1, text)
		if got, ok := guessLatin(data, data); ok {
			t.Errorf("%s in Latin-1 read as %q", name, got)
		}
	}
}
