package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/extract/extracttest"
)

// sheetPart is one part of a zip built for a test.
type sheetPart struct{ name, body string }

func makeSheetZip(t testing.TB, parts ...sheetPart) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		method := zip.Deflate
		if p.name == "mimetype" {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, p.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const (
	xlsxMainNS = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	relNS      = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
)

// makeXLSX builds a workbook whose sheets are the given worksheet bodies
// (what goes inside <worksheet>), named by names, with sharedStrings and
// styles parts when not "".
func makeXLSX(t testing.TB, names, sheets []string, shared, styles, title string) []byte {
	t.Helper()
	var wb, rels strings.Builder
	wb.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook ` + xlsxMainNS + `><sheets>`)
	rels.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`)
	parts := []sheetPart{
		{"[Content_Types].xml", `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`},
		{"_rels/.rels", `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="` + relNS + `officeDocument" Target="xl/workbook.xml"/></Relationships>`},
	}
	for i, name := range names {
		id := fmt.Sprintf("rId%d", i+1)
		state := ""
		if strings.HasPrefix(name, "hidden:") {
			name, state = strings.TrimPrefix(name, "hidden:"), ` state="hidden"`
		}
		fmt.Fprintf(&wb, `<sheet name="%s" sheetId="%d"%s r:id="%s"/>`, name, i+1, state, id)
		if sheets[i] == "chart" {
			fmt.Fprintf(&rels, `<Relationship Id="%s" Type="%schartsheet" Target="chartsheets/sheet%d.xml"/>`, id, relNS, i+1)
			parts = append(parts, sheetPart{fmt.Sprintf("xl/chartsheets/sheet%d.xml", i+1), `<chartsheet ` + xlsxMainNS + `><drawing r:id="rId1"/></chartsheet>`})
			continue
		}
		fmt.Fprintf(&rels, `<Relationship Id="%s" Type="%sworksheet" Target="/xl/worksheets/sheet%d.xml"/>`, id, relNS, i+1)
		parts = append(parts, sheetPart{fmt.Sprintf("xl/worksheets/sheet%d.xml", i+1), `<?xml version="1.0"?><worksheet ` + xlsxMainNS + `>` + sheets[i] + `</worksheet>`})
	}
	wb.WriteString(`</sheets></workbook>`)
	if shared != "" {
		rels.WriteString(`<Relationship Id="rIdS" Type="` + relNS + `sharedStrings" Target="sharedStrings.xml"/>`)
		parts = append(parts, sheetPart{"xl/sharedStrings.xml", `<?xml version="1.0"?><sst ` + xlsxMainNS + `>` + shared + `</sst>`})
	}
	if styles != "" {
		rels.WriteString(`<Relationship Id="rIdT" Type="` + relNS + `styles" Target="styles.xml"/>`)
		parts = append(parts, sheetPart{"xl/styles.xml", `<?xml version="1.0"?><styleSheet ` + xlsxMainNS + `>` + styles + `</styleSheet>`})
	}
	rels.WriteString(`</Relationships>`)
	if title != "" {
		parts = append(parts, sheetPart{"docProps/core.xml", `<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>` + title + `</dc:title></cp:coreProperties>`})
	}
	parts = append(parts, sheetPart{"xl/workbook.xml", wb.String()}, sheetPart{"xl/_rels/workbook.xml.rels", rels.String()})
	return makeSheetZip(t, parts...)
}

func TestExtractXLSX(t *testing.T) {
	t.Parallel()
	shared := `<si><t>Name</t></si>` +
		`<si><r><t>An</t></r><r><rPr><b/></rPr><t>n</t></r><rPh sb="0" eb="1"><t>アン</t></rPh></si>` +
		`<si><t>Born</t></si>` +
		`<si><t>A_x000D_B</t></si>`
	styles := `<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy\-mm\-dd;@"/></numFmts>` +
		`<cellStyleXfs><xf numFmtId="14"/></cellStyleXfs>` +
		`<cellXfs><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/><xf numFmtId="4"/><xf numFmtId="20"/></cellXfs>`
	people := `<sheetData>` +
		`<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>2</v></c><c r="C1" t="inlineStr"><is><t>Score</t></is></c><c r="D1" t="inlineStr"><is><t>OK</t></is></c><c r="E1" t="inlineStr"><is><t>At</t></is></c></row>` +
		`<row r="2"/>` +
		`<row r="3"><c r="A3" t="s"><v>1</v></c><c r="B3" s="1"><v>40543</v></c><c r="C3"><f>0.1+0.2</f><v>0.30000000000000004</v></c><c r="D3" t="b"><v>1</v></c><c r="E3" s="4"><v>0.5</v></c></row>` +
		`<row r="4"><c r="A4" t="str"><f>"B"&amp;"ob"</f><v>Bob</v></c><c r="B4" t="e"><v>#N/A</v></c><c r="C4" s="3"><v>12345678</v></c><c r="D4" t="b"><v>0</v></c></row>` +
		`<row r="5"><c r="A5" t="s"><v>3</v></c><c r="B5" s="2"/></row>` +
		`<row r="6"><c r="C6" s="0"><v>1E-3</v></c><c r="A6" t="inlineStr"><is><t>Zoë</t></is></c></row>` +
		`</sheetData><mergeCells count="1"><mergeCell ref="A5:B5"/></mergeCells>`
	secret := `<sheetData><row><c t="inlineStr"><is><t>Key</t></is></c><c t="inlineStr"><is><t>Value</t></is></c></row>` +
		`<row><c t="inlineStr"><is><t>k</t></is></c><c t="inlineStr"><is><t>v</t></is></c></row></sheetData>`
	data := makeXLSX(t, []string{"People", "hidden:Secret", "Chart", "Empty"},
		[]string{people, secret, "chart", `<sheetData><row r="1"><c r="A1" s="1"/></row></sheetData>`}, shared, styles, "Staff list")

	ext := mustExtract(t, TypeXLSX, data)
	want := "People\n\n" +
		"Name | Born | Score | OK | At\n" +
		"Name: Ann; Born: 2010-12-31; Score: 0.3; OK: TRUE; At: 12:00:00\n" +
		"Name: Bob; Born: #N/A; Score: 12345678; OK: FALSE\n" +
		"Name: A B\n" +
		"Name: Zoë; Score: 0.001\n\n" +
		"Secret\n\n" +
		"Key | Value\n" +
		"Key: k; Value: v"
	if ext.Text != want {
		t.Fatalf("text =\n%s\nwant\n%s", ext.Text, want)
	}
	secs := sectionTexts(ext)
	if len(ext.Sections) != 2 || !strings.HasPrefix(secs["People"], "People\n\nName | Born") || !strings.HasPrefix(secs["Secret"], "Secret\n\nKey | Value") {
		t.Fatalf("sections = %+v", ext.Sections)
	}
	if ext.Title != "Staff list" {
		t.Fatalf("title = %q, want the core properties' title", ext.Title)
	}
	if len(ext.Pages) != 0 {
		t.Fatalf("pages = %v, want none", ext.Pages)
	}
}

func TestExtractXLSXDates1904AndNoRelationships(t *testing.T) {
	t.Parallel()
	// A damaged workbook without xl/_rels/workbook.xml.rels is read as
	// Excel names its parts; a 1904 workbook counts days from 1904-01-01.
	data := makeSheetZip(t,
		sheetPart{"xl/workbook.xml", `<workbook ` + xlsxMainNS + `><workbookPr date1904="1"/><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		sheetPart{"xl/styles.xml", `<styleSheet ` + xlsxMainNS + `><cellXfs><xf numFmtId="0"/><xf numFmtId="22"/></cellXfs></styleSheet>`},
		sheetPart{"xl/worksheets/sheet1.xml", `<worksheet ` + xlsxMainNS + `><sheetData><row><c t="inlineStr"><is><t>When</t></is></c></row><row><c s="1"><v>0.75</v></c></row></sheetData></worksheet>`},
	)
	ext := mustExtract(t, TypeXLSX, data)
	if want := "S\n\nWhen\nWhen: 1904-01-01 18:00:00"; ext.Text != want {
		t.Fatalf("text = %q, want %q", ext.Text, want)
	}
}

func TestSheetHeaderChoice(t *testing.T) {
	t.Parallel()
	row := func(cells ...string) []sheetCell {
		var out []sheetCell
		for i, c := range cells {
			if c != "" {
				out = append(out, sheetCell{col: i, text: c})
			}
		}
		return out
	}
	cases := map[string]struct {
		rows [][]sheetCell
		want string
	}{
		"FirstRow": {[][]sheetCell{row("a", "b"), row("1", "2"), row("", "3")}, "a | b\na: 1; b: 2\nb: 3"},
		"TitleAbove": {[][]sheetCell{row("Quarterly figures"), row("Region", "Q1", "Q2"), row("North", "1", "2")},
			"Quarterly figures\nRegion | Q1 | Q2\nRegion: North; Q1: 1; Q2: 2"},
		"OneColumn":         {[][]sheetCell{row("Names"), row("Ann"), row("Bob")}, "Names\nNames: Ann\nNames: Bob"},
		"OneRow":            {[][]sheetCell{row("only", "row")}, "only | row"},
		"RepeatedHeader":    {[][]sheetCell{row("a", "b"), row("1", "2"), row("a", "b"), row("3", "4")}, "a | b\na: 1; b: 2\na | b\na: 3; b: 4"},
		"NoHeaderForColumn": {[][]sheetCell{row("a", "b"), row("1", "2", "extra")}, "a | b\na: 1; b: 2; extra"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBuilder(0)
			w := newSheetWriter(b)
			w.startSheet("")
			for _, r := range tc.rows {
				w.rows(r, 1)
			}
			w.endSheet()
			ext, err := b.result()
			if err != nil {
				t.Fatal(err)
			}
			if ext.Text != tc.want {
				t.Fatalf("text = %q, want %q", ext.Text, tc.want)
			}
		})
	}
	// Past the lookahead the header stands and rows are written as they come.
	b := newBuilder(0)
	w := newSheetWriter(b)
	w.startSheet("S")
	w.rows(row("h"), 1)
	w.rows(row("v"), sheetHeaderLookahead+10)
	w.endSheet()
	ext, _ := b.result()
	if got := strings.Count(ext.Text, "h: v\n") + strings.Count(ext.Text, "h: v"); got < sheetHeaderLookahead+10 || !strings.HasPrefix(ext.Text, "S\n\nh\nh: v\n") {
		t.Fatalf("text = %q", ext.Text)
	}
}

const odsNS = `xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"`

// odsInventory is a spreadsheet body with what LibreOffice writes: column
// definitions, repeats of empty cells and rows, a merge, an annotation.
const odsInventory = `<office:spreadsheet>` +
	`<table:table table:name="Inventory"><table:table-column table:number-columns-repeated="1024"/>` +
	`<table:table-row><table:table-cell office:value-type="string"><text:p>Item</text:p></table:table-cell>` +
	`<table:table-cell><text:p>Qty</text:p></table:table-cell><table:table-cell><text:p>Note</text:p></table:table-cell>` +
	`<table:table-cell table:number-columns-repeated="1021"/></table:table-row>` +
	`<table:table-row table:number-rows-repeated="1000000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>` +
	`<table:table-row><table:table-cell office:value-type="string"><office:annotation><dc:creator>me</dc:creator><text:p>secret note</text:p></office:annotation><text:p>Bolt</text:p></table:table-cell>` +
	`<table:table-cell office:value-type="float" office:value="5" table:formula="of:=2+3"><text:p>5</text:p></table:table-cell></table:table-row>` +
	`<table:table-row table:number-rows-repeated="2"><table:table-cell><text:p>Hex<text:s text:c="3"/><text:span>nut</text:span></text:p></table:table-cell>` +
	`<table:table-cell office:value-type="float" office:value="7"/></table:table-row>` +
	`<table:table-header-rows><table:table-row><table:table-cell table:number-columns-spanned="2"><text:p>Washer</text:p></table:table-cell>` +
	`<table:covered-table-cell><text:p>hidden</text:p></table:covered-table-cell>` +
	`<table:table-cell><text:p>first</text:p><text:p>second<text:line-break/>third</text:p></table:table-cell></table:table-row></table:table-header-rows>` +
	`</table:table>` +
	`<table:table table:name="Empty"><table:table-row table:number-rows-repeated="999999999"><table:table-cell table:number-columns-repeated="999999999"/></table:table-row></table:table>` +
	`</office:spreadsheet>`

const odsInventoryText = "Inventory\n\n" +
	"Item | Qty | Note\n" +
	"Item: Bolt; Qty: 5\n" +
	"Item: Hex nut; Qty: 7\n" +
	"Item: Hex nut; Qty: 7\n" +
	"Item: Washer; Note: first second third"

func makeODS(t testing.TB, content, meta, manifest string) []byte {
	t.Helper()
	parts := []sheetPart{
		{"mimetype", "application/vnd.oasis.opendocument.spreadsheet"},
		{"META-INF/manifest.xml", manifest},
		{"content.xml", content},
	}
	if meta != "" {
		parts = append(parts, sheetPart{"meta.xml", meta})
	}
	return makeSheetZip(t, parts...)
}

func odsContent(spreadsheet string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><office:document-content ` + odsNS + `><office:body>` + spreadsheet + `</office:body></office:document-content>`
}

func TestExtractODS(t *testing.T) {
	t.Parallel()
	meta := `<?xml version="1.0"?><office:document-meta ` + odsNS + `><office:meta><dc:title>Stock 2024</dc:title></office:meta></office:document-meta>`
	start := time.Now()
	ext := mustExtract(t, TypeODS, makeODS(t, odsContent(odsInventory), meta, `<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>`))
	if ext.Text != odsInventoryText {
		t.Fatalf("text =\n%s\nwant\n%s", ext.Text, odsInventoryText)
	}
	if ext.Title != "Stock 2024" {
		t.Fatalf("title = %q", ext.Title)
	}
	if len(ext.Sections) != 1 || ext.Sections[0].HeadingPath[0] != "Inventory" {
		t.Fatalf("sections = %+v", ext.Sections)
	}
	// 10^6 and 10^9 repeats of empty rows and cells are skipped, not
	// walked.
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}

	t.Run("Flat", func(t *testing.T) {
		t.Parallel()
		fods := `<?xml version="1.0" encoding="UTF-8"?><office:document ` + odsNS + ` office:mimetype="application/vnd.oasis.opendocument.spreadsheet">` +
			`<office:meta><dc:title>Flat stock</dc:title></office:meta><office:settings/><office:body>` + odsInventory + `</office:body></office:document>`
		ext := mustExtract(t, TypeODS, []byte(fods))
		if ext.Text != odsInventoryText || ext.Title != "Flat stock" {
			t.Fatalf("text =\n%s\ntitle %q", ext.Text, ext.Title)
		}
	})
}

func TestExtractCSV(t *testing.T) {
	t.Parallel()
	utf16le := func(s string) []byte {
		out := []byte{0xFF, 0xFE}
		for _, u := range utf16.Encode([]rune(s)) {
			out = append(out, byte(u), byte(u>>8))
		}
		return out
	}
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"Comma":              {[]byte("a,b,c\n1,2,3\n"), "a | b | c\na: 1; b: 2; c: 3"},
		"SemicolonDecimal":   {[]byte("price;qty\n1,5;2\n3,25;4\n"), "price | qty\nprice: 1,5; qty: 2\nprice: 3,25; qty: 4"},
		"Tab":                {[]byte("x\ty\n1\t2\n"), "x | y\nx: 1; y: 2"},
		"Pipe":               {[]byte("Year|Sales, EUR|Units\r\n1986|44,000|5\r\n"), "Year | Sales, EUR | Units\nYear: 1986; Sales, EUR: 44,000; Units: 5"},
		"BOM":                {[]byte("\xEF\xBB\xBFname,age\nAnn,31\n"), "name | age\nname: Ann; age: 31"},
		"UTF16":              {utf16le("名前,年齢\n太郎,30\n"), "名前 | 年齢\n名前: 太郎; 年齢: 30"},
		"Latin1":             {[]byte("caf\xe9,prix\ncr\xe8me,3\n"), "café | prix\ncafé: crème; prix: 3"},
		"TitleAbove":         {[]byte("Report 2023\n\n,,\nname,age,city\nAnn,31,Oslo\n"), "Report 2023\nname | age | city\nname: Ann; age: 31; city: Oslo"},
		"QuotesAndNewlines":  {[]byte("a,b\n\"x\ny\",he said \"hi\"\n\"open,\"\"q\"\"\",z\n"), "a | b\na: x y; b: he said \"hi\"\na: open,\"q\"; b: z"},
		"VariableFields":     {[]byte("a,b\n1\n1,2,3\n"), "a | b\na: 1\na: 1; b: 2; 3"},
		"EmptyCells":         {[]byte("a,b,c\n1,,\n,,3\n"), "a | b | c\na: 1\nc: 3"},
		"CarriageReturnOnly": {[]byte("a,b\r1,2\r"), "a | b\na: 1; b: 2"},
		"OneCell":            {[]byte("a"), "a"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ext := mustExtract(t, TypeCSV, tc.in)
			if ext.Text != tc.want {
				t.Fatalf("text = %q, want %q", ext.Text, tc.want)
			}
			if len(ext.Sections) != 1 || len(ext.Sections[0].HeadingPath) != 0 || ext.Title != "" {
				t.Fatalf("sections = %+v, title %q: want one section without a heading and no title", ext.Sections, ext.Title)
			}
		})
	}
	for name, tc := range map[string]struct {
		in   string
		code string
	}{
		"Empty":       {"", CodeNoText},
		"OnlyCommas":  {",,,\n ,\t,\n", CodeNoText},
		"NUL":         {"a,b\x00\n", CodeInvalidEncoding},
		"OddUTF16":    {"\xFF\xFEa", CodeInvalidEncoding},
		"QuoteNoEnd":  {"a\n\"" + strings.Repeat("x", 5000), CodeTooLarge},
		"HugeOneLine": {strings.Repeat("y,", 3000), CodeTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Extract(t.Context(), TypeCSV, []byte(tc.in), Limits{MaxTextBytes: 4096})
			if e, ok := AsError(err); !ok || e.Code != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
}

func TestSniffDelimiter(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]rune{
		"a,b\n1,2\n":                       ',',
		"a;b;c\n1,5;2,5;3\n4;5,5;6\n":      ';',
		"a\tb\n1\t2\n":                     '\t',
		"a|b\n\"x|y\"|2\n1|2\n":            '|',
		"title, with comma\na;b\n1;2\n3;4": ';',
		"one column\nonly\n":               ',',
	} {
		if got := sniffDelimiter(in); got != want {
			t.Errorf("sniffDelimiter(%q) = %q, want %q", in, got, want)
		}
	}
}

// wantCode extracts data as typ under lim and checks it fails with code.
func sheetWantCode(t *testing.T, typ Type, data []byte, lim Limits, code string) *Error {
	t.Helper()
	_, err := Extract(t.Context(), typ, data, lim)
	e, ok := AsError(err)
	if !ok || e.Code != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
	return e
}

func TestSheetsHostile(t *testing.T) {
	t.Parallel()
	oneSheet := func(body string) []byte {
		return makeXLSX(t, []string{"S"}, []string{body}, "", "", "")
	}
	odsOf := func(spreadsheet string) []byte {
		return makeODS(t, odsContent(spreadsheet), "", `<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>`)
	}
	laughs := `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>`
	xxe := `<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`

	t.Run("ZipBomb", func(t *testing.T) {
		t.Parallel()
		pad := strings.Repeat(" ", 16<<20) // 16 MiB of white space deflates to about 16 KiB
		lim := Limits{MaxUnzippedBytes: 4 << 20}
		for typ, data := range map[Type][]byte{
			TypeXLSX: oneSheet(`<sheetData>` + pad + `</sheetData>`),
			TypeODS:  odsOf(`<office:spreadsheet>` + pad + `</office:spreadsheet>`),
		} {
			if len(data) > 1<<20 {
				t.Fatalf("%s bomb is %d bytes", typ, len(data))
			}
			sheetWantCode(t, typ, data, lim, CodeTooLarge)
		}
		// Shared strings are counted too.
		data := makeXLSX(t, []string{"S"}, []string{`<sheetData/>`}, `<si><t>`+pad+`</t></si>`, "", "")
		sheetWantCode(t, TypeXLSX, data, lim, CodeTooLarge)
	})
	t.Run("EntityExpansion", func(t *testing.T) {
		t.Parallel()
		cell := `<sheetData><row><c t="inlineStr"><is><t>&lol3;</t></is></c></row></sheetData>`
		for name, data := range map[string][]byte{
			"XLSXLaughs": makeSheetZip(t,
				sheetPart{"xl/workbook.xml", `<workbook ` + xlsxMainNS + `><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`},
				sheetPart{"xl/worksheets/sheet1.xml", `<?xml version="1.0"?>` + laughs + `<worksheet ` + xlsxMainNS + `>` + cell + `</worksheet>`}),
			"XLSXExternal": makeSheetZip(t,
				sheetPart{"xl/workbook.xml", `<workbook ` + xlsxMainNS + `><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`},
				sheetPart{"xl/worksheets/sheet1.xml", `<?xml version="1.0"?>` + xxe + `<worksheet ` + xlsxMainNS + `><sheetData><row><c t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>`}),
			"XLSXUndeclared": oneSheet(`<sheetData><row><c t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData>`),
			"ODSLaughs":      makeODS(t, `<?xml version="1.0"?>`+laughs+`<office:document-content `+odsNS+`><office:body><office:spreadsheet><table:table table:name="S"><table:table-row><table:table-cell><text:p>&lol3;</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>`, "", ""),
			"FODSExternal":   []byte(`<?xml version="1.0"?>` + xxe + `<office:document ` + odsNS + `><office:body><office:spreadsheet><table:table table:name="S"><table:table-row><table:table-cell><text:p>&xxe;</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document>`),
		} {
			typ := TypeXLSX
			if strings.Contains(name, "ODS") {
				typ = TypeODS
			}
			e := sheetWantCode(t, typ, data, Limits{}, CodeUnsupportedType)
			if strings.Contains(e.Error(), "root:") {
				t.Fatalf("%s: error leaks a file: %v", name, e)
			}
		}
	})
	t.Run("DeepNesting", func(t *testing.T) {
		t.Parallel()
		deep := strings.Repeat("<x>", 100000) + strings.Repeat("</x>", 100000)
		sheetWantCode(t, TypeXLSX, oneSheet(`<sheetData><row><c t="inlineStr"><is><t>a</t>`+deep+`</is></c></row></sheetData>`), Limits{}, CodeTooComplex)
		sheetWantCode(t, TypeODS, odsOf(`<office:spreadsheet><table:table table:name="S"><table:table-row><table:table-cell><text:p>`+
			strings.Repeat("<text:span>", 100000)+"a"+strings.Repeat("</text:span>", 100000)+`</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet>`), Limits{}, CodeTooComplex)
		// A sheet nested inside a cell, as deep as the limit allows, is read.
		ext := mustExtract(t, TypeODS, odsOf(`<office:spreadsheet><table:table table:name="S"><table:table-row><table:table-cell><text:p>`+
			strings.Repeat("<text:span>", 200)+"deep"+strings.Repeat("</text:span>", 200)+`</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet>`))
		if ext.Text != "S\n\ndeep" {
			t.Fatalf("text = %q", ext.Text)
		}
	})
	t.Run("RepeatDOS", func(t *testing.T) {
		t.Parallel()
		// calamine's issue 594: a non-empty cell repeated 999999999 times in
		// a row repeated 999999999 times. Columns stop at maxSheetColumns,
		// rows at the text limit.
		start := time.Now()
		sheetWantCode(t, TypeODS, odsOf(`<office:spreadsheet><table:table table:name="Sheet1"><table:table-row table:number-rows-repeated="999999999">`+
			`<table:table-cell table:number-columns-repeated="999999999" office:value-type="string"><text:p>X</text:p></table:table-cell>`+
			`</table:table-row></table:table></office:spreadsheet>`), Limits{}, CodeTooLarge)
		// Repeats past every limit, empty, then a real cell far out.
		ext := mustExtract(t, TypeODS, odsOf(`<office:spreadsheet><table:table table:name="S">`+
			`<table:table-row table:number-rows-repeated="99999999999999999999"><table:table-cell table:number-columns-repeated="-5"/></table:table-row>`+
			`<table:table-row><table:table-cell table:number-columns-repeated="99999999999"/><table:table-cell><text:p>gone</text:p></table:table-cell></table:table-row>`+
			`<table:table-row><table:table-cell table:number-columns-repeated="3"><text:p>x</text:p></table:table-cell></table:table-row>`+
			`</table:table></office:spreadsheet>`))
		if ext.Text != "S\n\nx | x | x" {
			t.Fatalf("text = %q", ext.Text)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("CorruptArchives", func(t *testing.T) {
		t.Parallel()
		good := oneSheet(`<sheetData><row><c t="inlineStr"><is><t>a</t></is></c></row></sheetData>`)
		goodODS := odsOf(odsInventory)
		for name, tc := range map[string]struct {
			typ  Type
			data []byte
			code string
		}{
			"XLSXTruncated":     {TypeXLSX, good[:len(good)/2], CodeUnsupportedType},
			"XLSXEmpty":         {TypeXLSX, nil, CodeUnsupportedType},
			"XLSXRandom":        {TypeXLSX, bytes.Repeat([]byte{0x9c, 0x01, 0xff}, 1000), CodeUnsupportedType},
			"XLSXEncrypted":     {TypeXLSX, extracttest.CompoundFile("Root Entry", "EncryptionInfo", "EncryptedPackage"), CodeEncrypted},
			"XLSXLegacyBinary":  {TypeXLSX, extracttest.CompoundFile("Root Entry", "Workbook"), CodeUnsupportedType},
			"XLSXCFBHeaderOnly": {TypeXLSX, append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 512)...), CodeUnsupportedType},
			"XLSXNoWorkbook":    {TypeXLSX, makeSheetZip(t, sheetPart{"a.txt", "hello"}), CodeUnsupportedType},
			"XLSXSheetsMissing": {TypeXLSX, makeSheetZip(t, sheetPart{"xl/workbook.xml", `<workbook ` + xlsxMainNS + `><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`}), CodeUnsupportedType},
			"XLSXBadXML":        {TypeXLSX, oneSheet(`<sheetData><row><c></row></sheetData>`), CodeUnsupportedType},
			"XLSXNoSheets":      {TypeXLSX, makeXLSX(t, nil, nil, "", "", ""), CodeNoText},
			"ODSTruncated":      {TypeODS, goodODS[:len(goodODS)*2/3], CodeUnsupportedType},
			"ODSEmpty":          {TypeODS, nil, CodeNoText},
			"ODSNoContent":      {TypeODS, makeSheetZip(t, sheetPart{"mimetype", "application/vnd.oasis.opendocument.spreadsheet"}), CodeUnsupportedType},
			"ODSBadXML":         {TypeODS, odsOf(`<office:spreadsheet><table:table>`), CodeUnsupportedType},
			"ODSNotXML":         {TypeODS, []byte("just some text"), CodeNoText},
			"ODSEncrypted":      {TypeODS, makeODS(t, "\x8f\x01binary", "", `<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data manifest:checksum-type="SHA1"/></manifest:file-entry></manifest:manifest>`), CodeEncrypted},
			"XLSXHugeCell":      {TypeXLSX, oneSheet(`<sheetData><row><c t="inlineStr"><is><t>` + strings.Repeat("z", 10000) + `</t></is></c></row></sheetData>`), CodeTooLarge},
			"ODSHugeCell":       {TypeODS, odsOf(`<office:spreadsheet><table:table table:name="S"><table:table-row><table:table-cell><text:p>` + strings.Repeat("z", 10000) + `</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet>`), CodeTooLarge},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := sheetWantCode(t, tc.typ, tc.data, Limits{MaxTextBytes: 4096}, tc.code)
				if strings.Contains(name, "Encrypted") && !strings.Contains(e.Message, "password") {
					t.Fatalf("message %q does not say the file has a password", e.Message)
				}
			})
		}
	})
}

// sheetRowsReader generates a worksheet of n rows without holding it,
// counting what was read.
type sheetRowsReader struct {
	n, i int
	buf  []byte
	read int64
}

func (r *sheetRowsReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		switch {
		case r.i == 0:
			r.buf = []byte(`<worksheet ` + xlsxMainNS + `><sheetData>`)
		case r.i <= r.n:
			r.buf = fmt.Appendf(nil, `<row r="%d"><c t="inlineStr"><is><t>name %d</t></is></c><c><v>%d</v></c></row>`, r.i, r.i, r.i)
		case r.i == r.n+1:
			r.buf = []byte(`</sheetData></worksheet>`)
		default:
			return 0, io.EOF
		}
		r.i++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	r.read += int64(n)
	return n, nil
}

func TestSheetMillionRowsStopsEarly(t *testing.T) {
	t.Parallel()
	// A sheet of 10^6 rows (about 60 MB of XML) under a 1 MiB text limit:
	// the reader stops soon after the limit instead of parsing the rest.
	r := &sheetRowsReader{n: 1_000_000}
	b := newBuilder(1 << 20)
	w := newSheetWriter(b)
	w.startSheet("Big")
	if err := walkXLSXSheet(context.Background(), r, &xlsxBook{}, w, 1<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := b.result(); err == nil {
		t.Fatal("no error, want too_large")
	} else if e, _ := AsError(err); e.Code != CodeTooLarge {
		t.Fatalf("err = %v, want too_large", err)
	}
	if r.read > 8<<20 {
		t.Fatalf("read %d bytes of the sheet after the text limit of 1 MiB", r.read)
	}

	// The same through CSV.
	var csv strings.Builder
	csv.WriteString("name,number\n")
	for i := range 1_000_000 {
		fmt.Fprintf(&csv, "name %d,%d\n", i, i)
	}
	start := time.Now()
	sheetWantCode(t, TypeCSV, []byte(csv.String()), Limits{MaxTextBytes: 1 << 20}, CodeTooLarge)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestSheetChunksStandAlone(t *testing.T) {
	t.Parallel()
	// A sheet of 300 rows cut into chunks of 128 tokens: every row of every
	// chunk names the column of each of its values, and every chunk is
	// under the sheet's name. (A chunk's first line may be the end of a
	// row: the overlap with the chunk before starts at a word.)
	var table strings.Builder
	table.WriteString("Country,Capital,Population in millions,Currency\n")
	for i := range 300 {
		fmt.Fprintf(&table, "Country %d,Capital %d,%d.%d,Currency %d\n", i, i, i, i%10, i%7)
	}
	var rows strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(table.String()), "\n") {
		rows.WriteString(`<row>`)
		for _, f := range strings.Split(line, ",") {
			fmt.Fprintf(&rows, `<c t="inlineStr"><is><t>%s</t></is></c>`, f)
		}
		rows.WriteString(`</row>`)
	}
	ext := mustExtract(t, TypeXLSX, makeXLSX(t, []string{"Capitals"}, []string{`<sheetData>` + rows.String() + `</sheetData>`}, "", "", ""))
	tok, err := chunker.NewCL100K()
	if err != nil {
		t.Fatal(err)
	}
	c, err := chunker.New(tok, chunker.Options{MaxTokens: 128})
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := c.Split(ext.Document)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 20 {
		t.Fatalf("%d chunks, want many", len(chunks))
	}
	for _, ch := range chunks {
		if strings.Join(ch.HeadingPath, " > ") != "Capitals" {
			t.Fatalf("chunk %d is under %q", ch.Index, ch.HeadingPath)
		}
		lines := strings.Split(ch.Text, "\n")
		if ch.Index > 0 {
			lines = lines[1:]
		}
		for _, l := range lines {
			if l == "Capitals" || l == "" || strings.HasPrefix(l, "Country | ") {
				continue
			}
			for _, cell := range strings.Split(l, "; ") {
				if !strings.Contains(cell, ": ") {
					t.Fatalf("chunk %d: cell %q of line %q has no column", ch.Index, cell, l)
				}
			}
		}
	}
}
