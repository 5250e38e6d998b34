package extract

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// slidesManifest is MANIFEST.tsv's status of each file of the folders.
func slidesManifest(t *testing.T, dir string, folders ...string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = '\t', true, -1
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	out := map[string]string{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, folder := range folders {
			if rec[col["format"]] == folder {
				out[rec[col["file"]]] = rec[col["status"]]
			}
		}
	}
	return out
}

// TestExtractSlidesCorpus extracts every file of the development set's
// pptx/ and odp/ folders as ragd would (Detect, then Extract): each must
// end with text or a failure with a fitting code, never internal, and
// what it ends with is checked against what the manifest and the files
// say they hold. -v prints a table.
func TestExtractSlidesCorpus(t *testing.T) {
	t.Parallel()
	dir := officeDevdata(t)
	status := slidesManifest(t, dir, "pptx", "odp")
	type expect struct {
		code     string   // "" for text
		contains []string // in the text
		title    string
		pages    int // the deck's slide count, when not 0
	}
	// Files that end without text hold none a slide shows: a chart, a
	// picture, an embedded object or package, a master page's footer or
	// a macro.
	want := map[string]expect{
		"pptx/openxml-sdk__TestFiles__mcppt.pptx":                                        {contains: []string{"abc", "def"}},
		"pptx/openxml-sdk__algnThaiDist_mainLvl2ppr_AlignmentLevel2ThaiDistributed.pptx": {contains: []string{"Paragraph one of this test file. This is the first paragraph."}},
		"pptx/openxml-sdk__main_bodyPr_rtlCol.pptx":                                      {contains: []string{"rtlCol", "Insert Text box | Drawing Tools"}},
		"pptx/python-pptx__cht-charts.pptx":                                              {code: CodeNoText},
		"pptx/python-pptx__ext-rels.pptx":                                                {contains: []string{"Code is available at the python-pptx repository on GitHub"}},
		"pptx/python-pptx__missing_rels_item.pptx":                                       {contains: []string{"Subtitle Text"}, title: "Presentation Title Text"},
		"pptx/python-pptx__no-core-props.pptx":                                           {contains: []string{"Single slide"}, title: "Minimal Deck"},
		"pptx/python-pptx__no-slides.pptx":                                               {code: CodeNoText},
		"pptx/python-pptx__ph-inherit-props.pptx":                                        {contains: []string{"Title Text\n\nBody Text\n\nNotes: Notes in inherited position and size.", "Notes: Notes in modified position and size."}, pages: 2},
		"pptx/python-pptx__prs-notes.pptx":                                               {contains: []string{"Notes: Notes"}},
		"pptx/python-pptx__shp-access-ole-object.pptx":                                   {code: CodeNoText},
		"pptx/python-pptx__shp-embedded-pptx.pptx":                                       {code: CodeNoText},
		"pptx/python-pptx__shp-groupshape.pptx":                                          {code: CodeNoText},
		"pptx/python-pptx__shp-shapes.pptx":                                              {contains: []string{"shapes[0]", "Picture is shapes[2]", "shapes[3]"}},
		"pptx/python-pptx__sld-notes.pptx":                                               {contains: []string{"Notes: Notes"}, pages: 2},
		"pptx/python-pptx__tbl-cell.pptx":                                                {contains: []string{"having custom margins | vert anchor is inherited", "merged cell", "a | b | c\nd | e | f\ng | h | i"}, pages: 3},
		"pptx/python-pptx__test_slides.pptx":                                             {contains: []string{"Group test text", "Col head 1 | Col head 2\nCell text 1 | Cell text 2"}, title: "python-pptx was here!"},
		"pptx/python-pptx__txt-font-typeface.pptx":                                       {contains: []string{"暒龢加咊晴弗"}},
		"pptx/python-pptx__txt-paragraph-spacing.pptx":                                   {contains: []string{"Paragraph having line spacing of 20pt"}, pages: 3},
		"pptx/python-pptx__txt-text-frame.pptx":                                          {contains: []string{"MSO_AUTO_SIZE.SHAPE_TO_FIT_TEXT"}},
		"pptx/tika__testMSChart-govdocs-428996.pptx":                                     {contains: []string{"Thin Film Partnership Subcontract Budgets", "dropped 36%"}},
		"pptx/tika__testPPT_comment.pptx":                                                {contains: []string{"title", "subtitle"}},
		"pptx/tika__testPPT_embeded.pptx":                                                {contains: []string{"The quick brown fox jumps over the lazy dog"}},
		"pptx/tika__testPPT_groups.pptx":                                                 {contains: []string{"MyTitle", "Text box5 tika link", "smart1\nsmart2\nSmart3", "WordArt2", "Ungrouped text box"}},
		"pptx/tika__testPPT_macros.pptm":                                                 {contains: []string{"The quick"}},
		"pptx/tika__testPPT_protected_passtika.pptx":                                     {code: CodeEncrypted}, // encrypted OOXML: an OLE2 container
		"pptx/tika__testPPT_various.pptx":                                                {contains: []string{"Row 1 Col 1 | Row 1 Col 2 | Row 1 Col 3", "ゾルゲと尾崎、淡々と最期", "𐌲𐌿𐍄𐌹𐍃𐌺"}},
		"pptx/tika__testPPT_various2.pptx":                                               {contains: []string{"Slide2Header", "R1c1 | R1c2 | r1c3", "Notes: NotesForSlide2", "Notes: Notes for slide3", "This slide is hidden"}, title: "This is some content", pages: 10},
		"pptx/tika__testWPSAttachment.pptx":                                              {code: CodeNoText},
		"odp/odfpy__cols.odp":                                                            {contains: []string{"11 Lorem ipsum dolor sit amet", "Col 3"}},
		"odp/odfpy__emb_spreadsheet.odp":                                                 {contains: []string{"Embedded Spreadsheet"}, title: "Embedded Spreadsheet"},
		"odp/odfpy__ol.odp":                                                              {contains: []string{"OL\n\nEins\nTsvey", "Tsvelf"}, title: "OL"},
		"odp/tika__LibreOfficeImpress_odp_1.3.odp":                                       {contains: []string{"This is\n\nAn example Impress file"}, pages: 2},
		"odp/tika__testMasterFooter.odp":                                                 {code: CodeNoText},
		"odp/tika__testODPMacro.odp":                                                     {code: CodeNoText},
		"odp/tika__testODP_NPE.odp":                                                      {contains: []string{"Medicine and Health Care", "Culture-bound syndrome"}, title: "Medicine and Health Care", pages: 37},
	}
	counts := map[string]int{}
	t.Logf("%-80s %-6s %-6s %s", "file", "status", "result", "slides / sections")
	files := slices.Sorted(maps.Keys(status))
	for _, file := range files {
		st := status[file]
		w, ok := want[file]
		if !ok {
			t.Errorf("%s: in MANIFEST.tsv but not in this test", file)
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		var ext Extracted
		typ, detected := Detect(bytes.NewReader(data), int64(len(data)), filepath.Base(file))
		switch {
		case !detected:
			err = fail(CodeUnsupportedType, "not a type ragd reads")
		case typ != TypePPTX && typ != TypeODP:
			t.Errorf("%s: detected as %s", file, typ)
			continue
		default:
			ext, err = Extract(context.Background(), typ, data, Limits{})
		}
		result := "ready"
		if err != nil {
			e, ok := AsError(err)
			if !ok || e.Code == CodeInternal {
				t.Errorf("%s: %v", file, err)
				continue
			}
			result = e.Code
		}
		counts[result]++
		t.Logf("%-80s %-6s %-6s %d / %d  %q", file, st, result, ext.PageCount, len(ext.Sections), ext.Title)
		if w.code != "" {
			if result != w.code {
				t.Errorf("%s: ended %s, want %s", file, result, w.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v, want text", file, err)
			continue
		}
		for _, c := range w.contains {
			if !strings.Contains(ext.Text, c) {
				t.Errorf("%s: text lacks %q", file, c)
			}
		}
		if w.title != "" && ext.Title != w.title {
			t.Errorf("%s: title %q, want %q", file, ext.Title, w.title)
		}
		if w.pages != 0 && ext.PageCount != w.pages {
			t.Errorf("%s: %d slides, want %d", file, ext.PageCount, w.pages)
		}
		// Every section is one slide: inside one page, and headed.
		for _, s := range ext.Sections {
			in := false
			for _, p := range ext.Pages {
				in = in || p.Start <= s.Start && s.End <= p.End && p.Number >= 1 && p.Number <= ext.PageCount
			}
			if !in || len(s.HeadingPath) != 1 {
				t.Errorf("%s: section %v [%d, %d) is not within one slide's page", file, s.HeadingPath, s.Start, s.End)
			}
		}
	}
	t.Logf("%v", counts)
}
