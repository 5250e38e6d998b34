package extract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sheetsExpect is what one development file must give.
type sheetsExpect struct {
	code     string   // the failure code it must end with; "" for text
	contains []string // in the text
	absent   []string // not in the text
	sections []string // the sections' headings, in order, when not nil
}

// sheetsCorpus: what the files of xlsx/, ods/ and csv/ must give beyond
// "text, or a fitting failure". Normal files that fail are listed with
// why; csv-spectrum files are checked against their sidecars besides.
var sheetsCorpus = map[string]sheetsExpect{
	// Encrypted (OLE2 containers or encrypted zip entries): valid files
	// that need a password.
	"xlsx/excelize__encryptAES.xlsx":   {code: CodeEncrypted},
	"xlsx/excelize__encryptSHA1.xlsx":  {code: CodeEncrypted},
	"ods/calamine__pass_protected.ods": {code: CodeEncrypted},
	// Normal files without a word of text: empty sheets, and a flat ODS
	// whose only sheet holds an image and a macro (meta: cell-count 0).
	"ods/odfpy__empty.ods":        {code: CodeNoText},
	"ods/calamine__issue127.ods":  {code: CodeNoText},
	"ods/tika__testODSMacro.fods": {code: CodeNoText},
	// Broken: an empty workbook; one whose sheets are missing.
	"xlsx/excelize__BadWorkbook.xlsx":             {code: CodeNoText},
	"xlsx/tealeg-xlsx__badfile_noWorksheets.xlsx": {code: CodeUnsupportedType},
	// Hostile: 999999999 x 999999999 repeats of a non-empty cell.
	"ods/calamine__issue_594_dos.ods": {code: CodeTooLarge},

	// Hidden and very hidden sheets are empty; the chart sheet has no cells.
	"xlsx/calamine__any_sheets.xlsx":          {contains: []string{"This workbook contains 4 sheets: Visible, Hidden, VeryHidden and Chart"}, sections: []string{"Visible"}},
	"xlsx/calamine__has_x000D_.xlsx":          {contains: []string{"ABC DEF"}, absent: []string{"_x000D_"}},
	"xlsx/calamine__issue_553.xlsx":           {contains: []string{"영어: 한글"}},
	"xlsx/calamine__rph.xlsx":                 {contains: []string{"課きく 毛こ"}, absent: []string{"カ", "ケ"}},
	"xlsx/calamine__richtext-namespaced.xlsx": {contains: []string{"inline string Line 2 Line 3 | shared string Line 2 Line 3"}},
	"xlsx/calamine__strict_iso_paths.xlsx":    {contains: []string{": "}},
	"xlsx/excelize__Book1.xlsx":               {contains: []string{"Monitor: > 23 Inch", "Brand: HP"}, absent: []string{"SUM("}, sections: []string{"Sheet1", "Sheet2"}},
	"xlsx/excelize__OverflowNumericCell.xlsx": {contains: []string{"8595602512225"}},
	"xlsx/excelize__MergeCell.xlsx":           {contains: []string{"A1: A2"}},
	"xlsx/tealeg-xlsx__testcelltypes.xlsx": {contains: []string{"日本語", "hello world: 2015-01-01; string: date", "hello world: TRUE; string: bool",
		"hello world: 30; string: formula", "#DIV/0!"}, absent: []string{"10+20", "10/0"}},
	"xlsx/tealeg-xlsx__testchartsheet.xlsx":          {contains: []string{"Value: 4"}, sections: []string{"Sheet1"}},
	"xlsx/tealeg-xlsx__badfile_noWorkbookRels.xlsx":  {contains: []string{"Foo: Baz; Bar: Quuk"}},
	"ods/calamine__merged_cells.ods":                 {contains: []string{"A | B | C"}},
	"ods/calamine__covered.ods":                      {contains: []string{"a1: a2"}, absent: []string{"a3"}},
	"ods/calamine__with-annotation.ods":              {contains: []string{"cell a.1"}, absent: []string{"annotation"}},
	"ods/calamine__richtext_issue.ods":               {sections: []string{"datatypes", "Sheet1", "issue2", "issue5", "issue6", "spc_chrs"}},
	"ods/odfpy__examples__countrystatistics.ods":     {contains: []string{"Country: Austria; Population in millions: 8.3; Area km2: 83,858"}},
	"xlsx/tealeg-xlsx__inlineStrings.xlsx":           {contains: []string{"Dates: 06/01/16 - 06/25/16\nAttributable Sales\nDate | Campaign", "Date: 06/25/16; Campaign: Malformed Campaign"}},
	"ods/odfpy__pythagoras.ods":                      {contains: []string{"3: 5"}},
	"ods/odfpy__pythagoras-kspread.ods":              {contains: []string{"3: 5"}},
	"ods/odfpy__chinese_spreadsheet.ods":             {contains: []string{"test | test"}, sections: []string{"工作表1"}},
	"csv/messytables__utf-16le_encoded.csv":          {contains: []string{"Organisation_name: Enfield PCT"}},
	"csv/messytables__utf8bom.csv":                   {absent: []string{"\ufeff"}},
	"csv/messytables__example.tsv":                   {contains: []string{"hour: 2012-06-22 00:00:00; expr1_0_imp: 15955"}},
	"csv/messytables__simple.psv":                    {contains: []string{"Year: 1986; New dwellings: 44000"}},
	"csv/messytables__spanish_chars.csv":             {contains: []string{"Descripción: Comprende"}},
	"csv/messytables__characters.csv":                {contains: []string{"景點中文名稱: 雲嘉南濱海國家風景區管理處"}}, // Big5, undeclared
	"csv/messytables__weird_head_padding.csv":        {contains: []string{"Region: | Deutschland", "Gefäßchirurgie; 1985: .; 1993: 379"}},
	"csv/messytables__sparse_with_column_errors.csv": {contains: []string{"Bezeichnung: Trägerorganisationen"}},
	"csv/messytables__skip_initials.csv":             {contains: []string{"field1: hello2; field2: goodbye2"}},
}

func TestSheetsCorpus(t *testing.T) {
	t.Parallel()
	dir := officeDevdata(t)
	manifest, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(manifest), "\n"), "\n")
	col := map[string]int{}
	for i, h := range strings.Split(lines[0], "\t") {
		col[h] = i
	}
	types := map[string]Type{"xlsx": TypeXLSX, "ods": TypeODS, "csv": TypeCSV}
	type result struct{ file, status, detected, outcome string }
	var results []result
	counts := map[string]int{}
	for _, line := range lines[1:] {
		rec := strings.Split(line, "\t")
		typ, ok := types[rec[col["format"]]]
		if !ok {
			continue
		}
		file, status := rec[col["file"]], rec[col["status"]]
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		detected, _ := Detect(bytes.NewReader(data), int64(len(data)), filepath.Base(file))
		ext, err := Extract(t.Context(), typ, data, Limits{})
		want, listed := sheetsCorpus[file]
		outcome := fmt.Sprintf("ready, %d bytes, %d sections", len(ext.Text), len(ext.Sections))
		if err != nil {
			e, ok := AsError(err)
			switch {
			case !ok:
				t.Errorf("%s: %v, not an *Error", file, err)
			case e.Code == CodeInternal:
				t.Errorf("%s: internal: %v", file, err)
			case want.code != e.Code:
				t.Errorf("%s: failed %v; want %s", file, err, cmpOr(want.code, "text"))
			}
			outcome = "failed " + err.Error()
			if e != nil {
				counts["failed "+e.Code]++
			}
		} else {
			counts["ready"]++
			if want.code != "" {
				t.Errorf("%s: ready, want %s", file, want.code)
			}
			if status == "normal" && strings.TrimSpace(ext.Text) == "" {
				t.Errorf("%s: no text", file)
			}
		}
		// What Detect makes of the file: the folder's type, or (encrypted
		// OOXML, an OLE2 container) nothing.
		if detected != "" && detected != typ {
			t.Errorf("%s: detected as %q, want %q", file, detected, typ)
		}
		if err == nil {
			for _, s := range want.contains {
				if !strings.Contains(ext.Text, s) {
					t.Errorf("%s: text lacks %q", file, s)
				}
			}
			for _, s := range want.absent {
				if strings.Contains(ext.Text, s) {
					t.Errorf("%s: text has %q", file, s)
				}
			}
			if want.sections != nil {
				var got []string
				for _, s := range ext.Sections {
					got = append(got, strings.Join(s.HeadingPath, " > "))
				}
				if strings.Join(got, "|") != strings.Join(want.sections, "|") {
					t.Errorf("%s: sections %q, want %q", file, got, want.sections)
				}
			}
			if sidecar := strings.TrimSuffix(file, ".csv") + ".expected.json"; strings.HasSuffix(file, ".csv") {
				if js, err := os.ReadFile(filepath.Join(dir, sidecar)); err == nil {
					if wantText := csvSpectrumText(t, js); ext.Text != wantText {
						t.Errorf("%s: text %q, want %q (from %s)", file, ext.Text, wantText, filepath.Base(sidecar))
					}
				}
			}
		}
		if !listed && status != "normal" && err == nil {
			outcome += " (" + status + ")"
		}
		results = append(results, result{file, status, string(detected), outcome})
	}
	if len(results) < 60 {
		t.Errorf("%d spreadsheet files in MANIFEST.tsv, want the 63 of its README", len(results))
	}
	sort.Slice(results, func(i, j int) bool { return results[i].file < results[j].file })
	var table strings.Builder
	fmt.Fprintf(&table, "%-55s %-8s %-9s %s\n", "file", "status", "detected", "outcome")
	for _, r := range results {
		fmt.Fprintf(&table, "%-55s %-8s %-9s %s\n", r.file, r.status, r.detected, truncateRunes(r.outcome, 110))
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&table, "%s: %d\n", k, counts[k])
	}
	t.Logf("spreadsheet development set:\n%s", table.String())
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// csvSpectrumText is the text a csv-spectrum sidecar's records must give:
// their keys (in order) as the header line, then each record's non-empty
// values labelled.
func csvSpectrumText(t *testing.T, js []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(js))
	var keys []string
	var rows []string
	if _, err := dec.Token(); err != nil { // [
		t.Fatal(err)
	}
	for dec.More() {
		if _, err := dec.Token(); err != nil { // {
			t.Fatal(err)
		}
		var cells []string
		keys = keys[:0]
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			var v string
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k.(string))
			if v = cleanInline(v); v != "" {
				cells = append(cells, k.(string)+": "+v)
			}
		}
		if _, err := dec.Token(); err != nil { // }
			t.Fatal(err)
		}
		rows = append(rows, strings.Join(cells, "; "))
	}
	return strings.Join(append([]string{strings.Join(keys, " | ")}, rows...), "\n")
}
