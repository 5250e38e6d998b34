package extract

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// mbCorpusFile is one row of the development set's MANIFEST.tsv.
type mbCorpusFile struct {
	file, status, description string
}

func mbManifest(t *testing.T, dir, format string) []mbCorpusFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	col := map[string]int{}
	for i, h := range strings.Split(lines[0], "\t") {
		col[h] = i
	}
	var out []mbCorpusFile
	for _, line := range lines[1:] {
		rec := strings.Split(line, "\t")
		if len(rec) != len(col) {
			t.Fatalf("MANIFEST.tsv: %d fields in %q", len(rec), line)
		}
		if rec[col["format"]] == format {
			out = append(out, mbCorpusFile{rec[col["file"]], rec[col["status"]], rec[col["description"]]})
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s files in MANIFEST.tsv", format)
	}
	return out
}

// mbExpect is what one development file must give.
type mbExpect struct {
	code     string   // the failure code it must end with; "" for text
	contains []string // in the text, when it gives text
	absent   []string // not in the text
	title    string   // the title, when not ""
}

// runMBCorpus extracts every file of a development set folder as typ
// and checks it ends with text or a failure with a fitting code (never
// internal); files marked normal must give text unless want says
// otherwise, and want's expectations must hold. With -v it prints a table.
func runMBCorpus(t *testing.T, format string, typ Type, want map[string]mbExpect) {
	dir := officeDevdata(t)
	files := mbManifest(t, dir, format)
	seen := map[string]bool{}
	counts := map[string]int{}
	var table strings.Builder
	for _, cf := range files {
		data, err := os.ReadFile(filepath.Join(dir, cf.file))
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(cf.file)
		seen[name] = true
		detected, ok := Detect(bytes.NewReader(data), int64(len(data)), name)
		if !ok {
			detected = "-"
		}
		ext, err := Extract(t.Context(), typ, data, Limits{})
		w, hasWant := want[name]
		result := "ready"
		if err != nil {
			e, ok := AsError(err)
			if !ok {
				t.Errorf("%s: error without a code: %v", name, err)
				continue
			}
			result = e.Code
			switch {
			case e.Code == CodeInternal:
				t.Errorf("%s: internal: %v", name, err)
			case hasWant && w.code != e.Code:
				t.Errorf("%s: failed %v, want %q", name, err, w.code)
			case !hasWant && cf.status == "normal":
				t.Errorf("%s: a normal file failed: %v", name, err)
			}
		} else {
			if hasWant && w.code != "" {
				t.Errorf("%s: gave text, want failure %s", name, w.code)
			}
			if !utf8.ValidString(ext.Text) {
				t.Errorf("%s: text is not UTF-8", name)
			}
			for _, s := range w.contains {
				if !strings.Contains(ext.Text, s) {
					t.Errorf("%s: text lacks %q:\n%s", name, s, truncateRunes(ext.Text, 2000))
				}
			}
			for _, s := range w.absent {
				if strings.Contains(ext.Text, s) {
					t.Errorf("%s: text has %q", name, s)
				}
			}
			if w.title != "" && ext.Title != w.title {
				t.Errorf("%s: title %q, want %q", name, ext.Title, w.title)
			}
			mbCheckSpans(t, name, ext)
		}
		counts[result]++
		words := len(strings.Fields(ext.Text))
		table.WriteString(strings.Join([]string{cf.status, string(detected), result,
			strconv.Itoa(words), strconv.Itoa(len(ext.Sections)), truncateRunes(ext.Title, 40), name}, "\t") + "\n")
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("expectation for %s, which is not in the set", name)
		}
	}
	t.Logf("%s: %v\nstatus\tdetect\tresult\twords\tsections\ttitle\tfile\n%s", format, counts, table.String())
}

// mbCheckSpans checks sections and pages lie in the text, in order.
func mbCheckSpans(t *testing.T, name string, ext Extracted) {
	t.Helper()
	last := 0
	for _, s := range ext.Sections {
		if s.Start < last || s.End > len(ext.Text) || s.Start >= s.End {
			t.Errorf("%s: section %+v out of order or outside the text (%d bytes)", name, s, len(ext.Text))
		}
		last = s.End
	}
	for _, p := range ext.Pages {
		if p.Start < 0 || p.End > len(ext.Text) || p.Start >= p.End {
			t.Errorf("%s: page %+v outside the text", name, p)
		}
	}
}

func TestExtractEMLCorpus(t *testing.T) {
	t.Parallel()
	runMBCorpus(t, "eml", TypeEML, map[string]mbExpect{
		"flanker__attached-pdf.eml":            {contains: []string{"Test - body content", "Attachment: test.pdf\n\nTest."}},
		"flanker__enclosed.eml":                {contains: []string{"To: Александр Клижентас", "Attachment: thanks.eml", "kicking ass"}, title: "Wow"},
		"flanker__bilingual-simple.eml":        {contains: []string{"Как ты поживаешь?"}},
		"enmime__mail__qp-utf8-header.raw.eml": {title: "MIME UTF8 Test ¢ More Text"},
		// Big5 with no charset declared: guessed.
		"enmime__parts__chardet-success-big-5.raw.eml":         {contains: []string{"顏是家訓"}},
		"enmime__low-quality__incorrect-charset.raw.eml":       {contains: []string{"∮ E⋅da = Q"}},
		"enmime__low-quality__missing-content-type.raw.eml":    {contains: []string{"A plain text email"}},
		"enmime__low-quality__bad-final-boundary.raw.eml":      {contains: []string{"A text section", "Attachments: foo_9E5D72.zip"}},
		"enmime__low-quality__malformed-base64-attach.raw.eml": {contains: []string{"A text section", "Attachments: some.doc"}},
		"flanker__missing-final-boundary.eml":                  {contains: []string{"Some body"}},
		"flanker__mailformed-headers.eml":                      {contains: []string{"From: Юникод запрещен <headers@gmail.com>", "Hello"}},
		"flanker__russian-attachment-yahoo.eml":                {contains: []string{"Attachments: Картинка с очень"}},
		"flanker__outlook-express.eml":                         {contains: []string{"текстовое вложение"}},
		"flanker__torture-part.eml":                            {contains: []string{"Attachment: Re: a MIME-Version misfeature", "I have no problem with changing the BNF"}},
		"tika__testGroupWiseEml.eml":                           {contains: []string{"Attachment: test.eml", "test2", "Attachment: Neues Textdokument.txt"}},
		"tika__testRFC822-mixed-with-pdf-inline.eml":           {contains: []string{"I cannot access that page", "Attachments: tzora-titan-4-hummer-xl-manual.pdf"}},
		"tika__testThunderbirdEml.eml":                         {title: "JUnit test message"},
		"flanker__long-header.eml":                             {contains: []string{"Subject: Die heiße Zypernsonne"}},
	})
}

func TestExtractEPUBCorpus(t *testing.T) {
	t.Parallel()
	runMBCorpus(t, "epub", TypeEPUB, map[string]mbExpect{
		"pandoc__wasteland.epub":                {contains: []string{"April is the cruellest month"}, title: "The Waste Land"},
		"epub-rs__Metamorphosis-jackson.epub":   {contains: []string{"Gregor Samsa woke from troubled dreams"}, title: "Metamorphosis"},
		"epubjs__alice.epub":                    {contains: []string{"Down The Rabbit-Hole\n\nAlice was beginning to get very tired"}},
		"epub-tests__pkg-dir_rtl-root-ltr.epub": {title: "CSS: הרפתקה חדשה!"},
		"tika__testEPUB.epub":                   {contains: []string{"This is the text for chapter One", "Table header | Table data"}},
		// Hostile: the external entity is not resolved (foo.xhtml says "The test fails.").
		"epub-tests__pub-xml-external-id.epub": {contains: []string{"Test passes unless"}, absent: []string{"The test fails", "]>"}},
		// Broken: each still gives the text that can be read.
		"epub-check-test__epubsample028.epub": {contains: []string{"hello, world."}}, // no container.xml: the .opf is found
		"epub-check-test__epubsample036.epub": {contains: []string{"hello, world."}}, // a missing chapter is left out
	})
}

func TestExtractODTCorpus(t *testing.T) {
	t.Parallel()
	runMBCorpus(t, "odt", TypeODT, map[string]mbExpect{
		"odfpy__nasty.odt":              {code: CodeUnsupportedType}, // hostile: its DTD declares an external entity
		"pandoc__hiddenTextByStyle.odt": {code: CodeNoText},          // its one paragraph is hidden by its style
		"pandoc__formula.odt":           {code: CodeNoText},          // only an embedded formula object
		"tika__testODTEncrypted.odt":    {code: CodeEncrypted},       // encrypted: needs a password
		"tika__testODTnotaZipFile.odt":  {code: CodeUnsupportedType},
		"pandoc__footnote.odt":          {contains: []string{"Some text with a footnote.\n\nFootnote text"}},
		"pandoc__trackedChanges.odt":    {contains: []string{"Some text with and inserted text."}, absent: []string{"deleted"}},
		"odfpy__simpletable.odt":        {contains: []string{"Cell 1 | Cell 2\nCell 3 (bold) | Cell 4 (italic)"}},
		"odfpy__twolevellist.odt":       {contains: []string{"- Item B\n- Subitem B.1"}},
		"pandoc__tableWithSpans.odt":    {contains: []string{"B1-1 | B1-2 | Rowspan 3"}},
		"pandoc__imageWithCaption.odt":  {contains: []string{"Image caption"}},
		"odfpy__samples__Electra.odt":   {title: "Ηλέκτρα"},
		"tika__testODTMacro.fodt":       {contains: []string{"Hello dear user,", "Click the smiley"}, absent: []string{"iVBORw0KGgo"}},
	})
}
