package extract

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// A document's own title, as its format states it (Extracted.Title):
//
//	HTML      <title> without the site's name (" | Example News", " - Wikipedia"),
//	          else og:title (or twitter:title), else the page's first <h1>
//	PDF       XMP dc:title (x-default), else the Info dictionary's /Title,
//	          else the first line in the largest font of page 1
//	DOCX      docProps/core.xml dc:title, else the first heading
//	Markdown  front matter's title:, else the first heading
//	text      none
//
// Every candidate goes through CleanTitle, and one that is no title (a
// file name, "Untitled", "Document1", garbage) gives way to the next.
// DocumentTitle then turns it down when it only repeats the upload's
// file name.

// maxTitleInput bounds what a title candidate is read from, in bytes:
// a <title> of megabytes is cut before it is cleaned.
const maxTitleInput = 16 << 10

// maxExtractedTitle bounds Extracted.Title in runes; the store cuts it
// to its own limit.
const maxExtractedTitle = 500

// DocumentTitle is the title a document gets from its text: extracted
// (Extracted.Title) cleaned by CleanTitle and cut to maxRunes, or ""
// when it is no title or only the upload's file name over again, with or
// without its extension, in any case and with any separators
// ("annual_report_2019", "Annual Report 2019" or "Garden" in
// annual_report_2019.pdf or garden.md: the file name says as much).
func DocumentTitle(extracted, filename string, maxRunes int) string {
	t := CleanTitle(extracted, maxRunes)
	if t == "" || filename == "" {
		return t
	}
	if nt := looseName(t); nt == looseName(filename) || nt == looseName(stripExt(filename)) {
		return ""
	}
	return t
}

// looseName folds case, separators ("_", "-", ".") and white space, so
// that a title that only spells the file name differently matches it.
func looseName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', '+', '~':
			return ' '
		}
		return unicode.ToLower(r)
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// CleanTitle returns s as a title: Unicode NFC, control characters
// dropped, white space folded, at most maxRunes runes (cut at a word when
// one ends near the limit); an office suite's "Microsoft Word - x.doc"
// becomes "x". It returns "" when s is no title: empty, a file name or
// path ("report.pdf", "C:\Users\me\x.docx"), a program's placeholder
// ("Untitled", "Document1", "Slide 1", "PowerPoint Presentation"), or
// garbage (fewer than two letters or digits, mostly symbols, a hash).
func CleanTitle(s string, maxRunes int) string {
	if len(s) > maxTitleInput {
		s = s[:maxTitleInput]
	}
	s = cleanInline(strings.ToValidUTF8(s, ""))
	s = strings.TrimFunc(s, titleEdge)
	if rest, ok := cutOfficePrefix(s); ok {
		s = strings.TrimFunc(stripExt(rest), titleEdge)
	}
	if s == "" || isFileName(s) || placeholderTitle(s) || garbageTitle(s) {
		return ""
	}
	if maxRunes > 0 && utf8.RuneCountInString(s) > maxRunes {
		r := []rune(s)[:maxRunes]
		if i := lastSpace(r); i > maxRunes*4/5 {
			r = r[:i]
		}
		s = strings.TrimFunc(string(r), titleEdge)
	}
	return s
}

func lastSpace(r []rune) int {
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] == ' ' {
			return i
		}
	}
	return -1
}

// titleEdge: what a title neither starts nor ends with (separators left
// behind when a site's name was cut, stray quotes of a mis-quoted field).
func titleEdge(r rune) bool {
	switch r {
	case ' ', '|', '-', '–', '—', '·', '•', ':', '/', '\\', '»', '«', '_', ',', ';':
		return true
	}
	return false
}

// officePrefixes are what office suites' PDF printers put before a file
// name in /Title.
var officePrefixes = []string{
	"microsoft word - ", "microsoft powerpoint - ", "microsoft excel - ",
	"microsoft office word - ", "microsoft office powerpoint - ", "microsoft office excel - ",
	"word - ", "powerpoint - ", "excel - ",
}

func cutOfficePrefix(s string) (string, bool) {
	low := strings.ToLower(s)
	for _, p := range officePrefixes {
		if strings.HasPrefix(low, p) {
			return s[len(p):], true
		}
	}
	return s, false
}

// fileExts are the extensions that make a title a file name.
var fileExts = map[string]bool{
	"pdf": true, "doc": true, "docx": true, "dot": true, "dotx": true, "rtf": true, "odt": true, "txt": true,
	"md": true, "markdown": true, "html": true, "htm": true, "xhtml": true, "ppt": true, "pptx": true,
	"xls": true, "xlsx": true, "csv": true, "odp": true, "ods": true, "pages": true, "key": true,
	"tex": true, "dvi": true, "ps": true, "eps": true, "indd": true, "qxd": true, "qxp": true,
	"wpd": true, "tif": true, "tiff": true, "jpg": true, "jpeg": true, "png": true, "gif": true,
	"fm": true, "sxw": true, "wps": true, "xml": true, "vsd": true, "pub": true, "msg": true, "eml": true,
}

// stripExt removes a document file extension.
func stripExt(name string) string {
	ext := path.Ext(name)
	if len(ext) > 1 && fileExts[strings.ToLower(ext[1:])] {
		return name[:len(name)-len(ext)]
	}
	return name
}

// isFileName: s ends with a document extension, or is a path.
func isFileName(s string) bool {
	if stripExt(s) != s {
		return true
	}
	if strings.ContainsRune(s, '\\') || strings.HasPrefix(strings.ToLower(s), "file:") {
		return true
	}
	// "/tmp/x" or "a/b/c" without spaces is a path, not "Input/Output".
	return strings.Count(s, "/") >= 2 && !strings.ContainsRune(s, ' ')
}

// placeholders are the names programs give documents nobody named,
// lower-cased, numbers at the end dropped ("Document1", "Slide 12").
var placeholders = map[string]bool{
	"untitled": true, "untitled document": true, "untitled presentation": true, "untitled spreadsheet": true,
	"document": true, "new document": true, "doc": true, "word document": true, "microsoft word": true,
	"microsoft word document": true, "slide": true, "presentation": true, "powerpoint presentation": true,
	"microsoft powerpoint": true, "book": true, "sheet": true, "workbook": true, "title": true, "no title": true,
	"notitle": true, "none": true, "null": true, "nil": true, "undefined": true, "unknown": true, "n/a": true,
	"na": true, "default": true, "index": true, "home": true, "page": true, "new page": true, "draft": true,
	"pdf": true, "pdf document": true, "adobe acrobat": true, "scan": true, "scanned document": true,
	"image": true, "sans titre": true, "ohne titel": true, "sin título": true,
	"document sans titre": true, "unbenannt": true, "untitled page": true, "test": true, "temp": true,
	"insert title here": true, "your title here": true, "title of the document": true, "blank": true,
}

func placeholderTitle(s string) bool {
	low := strings.ToLower(s)
	low = strings.TrimRightFunc(low, func(r rune) bool {
		return unicode.IsDigit(r) || r == ' ' || r == '-' || r == '_' || r == '#' || r == '(' || r == ')'
	})
	low = strings.Trim(low, "[]<>() ")
	return placeholders[low]
}

// garbageTitle: fewer than two letters or digits, fewer letters and
// digits than other characters, or one long token of hex digits (a hash
// or an id).
func garbageTitle(s string) bool {
	alnum, other, hex := 0, 0, 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			alnum++
			if r < 0x80 && (unicode.IsDigit(r) || (r|0x20 >= 'a' && r|0x20 <= 'f')) {
				hex++
			}
		case r == ' ':
		default:
			other++
		}
	}
	if alnum < 2 || other > alnum {
		return true
	}
	return hex >= 16 && hex == alnum && other <= 4 && !strings.ContainsRune(s, ' ')
}

// firstHeading is the text of an extraction's first heading.
func firstHeading(ext Extracted) string {
	for _, s := range ext.Sections {
		if len(s.HeadingPath) > 0 {
			return s.HeadingPath[0]
		}
	}
	return ""
}

// firstTitle is the first of candidates that CleanTitle keeps.
func firstTitle(candidates ...string) string {
	for _, c := range candidates {
		if t := CleanTitle(c, maxExtractedTitle); t != "" {
			return t
		}
	}
	return ""
}

// ---- HTML

// htmlTitle chooses a page's title before the page is pruned: its
// <title> (the document's own, not an SVG's), without the site's name,
// else og:title or twitter:title, else its first <h1>.
func htmlTitle(doc *html.Node) string {
	var title, og, site string
	var h1s []string
	walk(doc, func(n *html.Node) bool {
		if n.Type != html.ElementNode {
			return true
		}
		switch {
		case n.DataAtom == atom.Title && n.Namespace == "" && title == "":
			title = cleanInline(clip(textOf(n)))
			return false
		case n.DataAtom == atom.Meta:
			key := strings.ToLower(cmpAttr(n, "property", "name"))
			val := cleanInline(clip(rawAttr(n, "content")))
			switch key {
			case "og:title", "twitter:title":
				if og == "" {
					og = val
				}
			case "og:site_name", "application-name":
				if site == "" {
					site = val
				}
			}
		case n.DataAtom == atom.H1 && len(h1s) < 8:
			if h := cleanInline(clip(textOf(n))); h != "" {
				h1s = append(h1s, h)
			}
			return false
		case n.DataAtom == atom.Svg, n.DataAtom == atom.Script, n.DataAtom == atom.Style, n.DataAtom == atom.Template:
			return false
		}
		return true
	})
	candidates := append([]string{og}, h1s...)
	return firstTitle(pageTitle(title, site, candidates), pageTitle(og, site, nil), firstOf(h1s))
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// clip bounds a candidate before it is cleaned.
func clip(s string) string {
	if len(s) > maxTitleInput {
		return s[:maxTitleInput]
	}
	return s
}

// titleSeparators split a <title> into the page's and the site's names.
var titleSeparators = []string{" | ", " - ", " – ", " — ", " · ", " • ", " :: ", " » ", " « ", " // "}

// pageTitle takes the site's name out of a <title>: the part that an
// og:title or <h1> of the page spells (site names rarely are in those),
// else without a first or last part that is the site's name (og:site_name),
// else without a last part that reads as a name (nameLike) and is shorter
// than the rest ("Mozilla - Wikipedia", "Story - Feb. 1, 2016", "Post | Blog").
func pageTitle(title, site string, others []string) string {
	if site != "" && strings.EqualFold(title, site) {
		return "" // the site's name alone ("<title>Quanta Magazine</title>")
	}
	parts, seps := splitTitle(title)
	if len(parts) < 2 {
		return title
	}
	// The longest run of parts from either end that another candidate
	// spells; a run at the end only when it is longer than the rest (a
	// logo's <h1> spells the site's name).
	for n := len(parts) - 1; n >= 1; n-- {
		head := joinParts(parts[:n], seps[:n-1])
		for _, o := range others {
			if o != "" && strings.EqualFold(o, head) {
				return head
			}
		}
		tail := joinParts(parts[len(parts)-n:], seps[len(parts)-n:])
		rest := joinParts(parts[:len(parts)-n], seps[:len(parts)-n-1])
		for _, o := range others {
			if o != "" && strings.EqualFold(o, tail) && utf8.RuneCountInString(tail) >= utf8.RuneCountInString(rest) {
				return tail
			}
		}
	}
	if site != "" {
		if strings.EqualFold(parts[len(parts)-1], site) || domainOf(parts[len(parts)-1], site) {
			return joinParts(parts[:len(parts)-1], seps[:len(seps)-1])
		}
		if strings.EqualFold(parts[0], site) || domainOf(parts[0], site) {
			return joinParts(parts[1:], seps[1:])
		}
	}
	last := parts[len(parts)-1]
	rest := joinParts(parts[:len(parts)-1], seps[:len(seps)-1])
	if nameLike(last) && utf8.RuneCountInString(last) < utf8.RuneCountInString(rest) {
		return rest
	}
	return title
}

// nameLike: s reads as a name or a date rather than a subtitle: at most
// four words, each with a capital letter or a digit, or a host name
// ("BBC News", "eHow", "Feb. 1, 2016", "example.com"; not "a history").
func nameLike(s string) bool {
	words := strings.Fields(s)
	if len(words) == 0 || len(words) > 4 {
		return false
	}
	for _, w := range words {
		if !strings.ContainsFunc(w, func(r rune) bool { return unicode.IsUpper(r) || unicode.IsDigit(r) || r == '.' }) {
			return false
		}
	}
	return true
}

// domainOf: part is the site's name as a host ("Example.com" of "Example").
func domainOf(part, site string) bool {
	p, s := strings.ToLower(part), strings.ToLower(site)
	return strings.HasPrefix(p, s+".") || strings.HasPrefix(p, "www."+s+".")
}

// splitTitle splits s at titleSeparators and at a symbol between spaces
// (" ✩ ", " ★ "), keeping each separator.
func splitTitle(s string) (parts, seps []string) {
	for {
		at, sep := -1, ""
		for _, x := range titleSeparators {
			if i := strings.Index(s, x); i > 0 && (at < 0 || i < at) {
				at, sep = i, x
			}
		}
		for i, r := range s {
			if at >= 0 && i >= at {
				break
			}
			if i > 0 && s[i-1] == ' ' && unicode.Is(unicode.So, r) && strings.HasPrefix(s[i+utf8.RuneLen(r):], " ") {
				at, sep = i-1, s[i-1:i+utf8.RuneLen(r)+1]
				break
			}
		}
		if at < 0 {
			return append(parts, s), seps
		}
		parts, seps = append(parts, s[:at]), append(seps, sep)
		s = s[at+len(sep):]
	}
}

func joinParts(parts, seps []string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString(seps[i-1])
		}
		b.WriteString(p)
	}
	return b.String()
}

func rawAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func cmpAttr(n *html.Node, keys ...string) string {
	for _, k := range keys {
		if v := rawAttr(n, k); v != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ---- PDF

// maxXMPBytes bounds the XMP packet read for a title.
const maxXMPBytes = 1 << 20

// pdfTitle is a PDF's title: XMP dc:title, else the Info dictionary's
// /Title, else the first line in the largest font of page 1 (pages are
// its lines, as extractPDF read them; body is the body's font size).
func pdfTitle(r *pdf.Reader, pages [][]pdfLine, body float64) string {
	var xmp, info string
	func() {
		defer func() { _ = recover() }() // the library panics on damaged objects
		root := r.Trailer().Key("Root")
		if m := root.Key("Metadata"); m.Kind() == pdf.Stream {
			rc := m.Reader()
			data, _ := io.ReadAll(io.LimitReader(rc, maxXMPBytes))
			rc.Close()
			xmp = xmpTitle(data)
		}
	}()
	func() {
		defer func() { _ = recover() }()
		info = pdfTextString(r.Trailer().Key("Info").Key("Title").RawString())
	}()
	var first []pdfLine
	if len(pages) > 0 {
		first = pages[0]
	}
	return firstTitle(xmp, info, largeFontLine(first, body))
}

// pdfTextString decodes a PDF text string: UTF-16BE after its byte order
// mark (UTF-16LE after a reversed one, which some writers produce), UTF-8
// after its mark (PDF 2.0), else PDFDocEncoding.
func pdfTextString(raw string) string {
	switch {
	case strings.HasPrefix(raw, "\xfe\xff"), strings.HasPrefix(raw, "\xff\xfe"):
		be := raw[0] == 0xfe
		u := make([]uint16, 0, len(raw)/2)
		for i := 2; i+1 < len(raw); i += 2 {
			if be {
				u = append(u, uint16(raw[i])<<8|uint16(raw[i+1]))
			} else {
				u = append(u, uint16(raw[i])|uint16(raw[i+1])<<8)
			}
		}
		return string(utf16.Decode(u))
	case strings.HasPrefix(raw, "\xef\xbb\xbf"):
		return raw[3:]
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		b.WriteRune(pdfDocRune(raw[i]))
	}
	return b.String()
}

// pdfDocRune maps a PDFDocEncoding byte; the bytes it leaves undefined
// become control characters, which CleanTitle drops.
func pdfDocRune(c byte) rune {
	switch {
	case c < 0x80 && c >= 0x20, c == '\t', c == '\n', c == '\r':
		return rune(c)
	case c >= 0xa1:
		if c == 0xad {
			return 0
		}
		return rune(c) // Latin-1 from 0xA1 on
	case c >= 0x80 && c <= 0xa0:
		return pdfDoc80[c-0x80]
	}
	return 0
}

var pdfDoc80 = [...]rune{
	0x2022, 0x2020, 0x2021, 0x2026, 0x2014, 0x2013, 0x0192, 0x2044, 0x2039, 0x203a, 0x2212, 0x2030, 0x201e, 0x201c, 0x201d, 0x2018,
	0x2019, 0x201a, 0x2122, 0xfb01, 0xfb02, 0x0141, 0x0152, 0x0160, 0x0178, 0x017d, 0x0131, 0x0142, 0x0153, 0x0161, 0x017e, 0,
	0x20ac,
}

// xmpTitle reads dc:title from an XMP packet: the rdf:Alt entry in
// xml:lang x-default, else its first entry (or the element's own text).
func xmpTitle(data []byte) string {
	const dc = "http://purl.org/dc/elements/1.1/"
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false
	inTitle, inLi := 0, false
	lang := ""
	var first, def string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if inTitle > 0 {
				inTitle++
				if t.Name.Local == "li" {
					inLi, lang = true, ""
					text.Reset()
					for _, a := range t.Attr {
						if a.Name.Local == "lang" {
							lang = strings.ToLower(a.Value)
						}
					}
				}
			} else if t.Name.Local == "title" && (t.Name.Space == dc || t.Name.Space == "dc") { // "dc": a prefix never declared
				inTitle = 1
				text.Reset()
			}
		case xml.CharData:
			if inTitle > 0 && text.Len() < maxTitleInput {
				text.Write(t)
			}
		case xml.EndElement:
			if inTitle == 0 {
				continue
			}
			inTitle--
			switch {
			case inLi && t.Name.Local == "li":
				inLi = false
				s := text.String()
				if first == "" {
					first = s
				}
				if lang == "x-default" && def == "" {
					def = s
				}
			case inTitle == 0:
				if first == "" {
					first = text.String() // dc:title with plain text
				}
				if def != "" {
					return def
				}
				return first
			}
		}
	}
	if def != "" {
		return def
	}
	if first == "" && inTitle > 0 {
		first = text.String() // a packet cut off inside the title
	}
	return first
}

// largeFontLine is the first line of page 1 in the page's largest font
// when that font is larger than the body's, with the lines right after
// it in the same font (a title broken over lines); "" otherwise.
func largeFontLine(lines []pdfLine, body float64) string {
	top := 0.0
	for _, l := range lines {
		if strings.TrimSpace(l.text) != "" && roundSize(l.size) > top && len(l.text) <= 300 {
			top = roundSize(l.size)
		}
	}
	if top == 0 || top < body*1.15 {
		return ""
	}
	var parts []string
	for _, l := range lines {
		if roundSize(l.size) == top && len(l.text) <= 300 && strings.TrimSpace(l.text) != "" {
			parts = append(parts, l.text)
			if len(parts) == 3 {
				break
			}
		} else if len(parts) > 0 {
			break
		}
	}
	return joinHyphenated(parts)
}

// ---- DOCX

// ooxmlCoreTitle reads dc:title from an Office Open XML package's
// docProps/core.xml (Word, Excel), at most 1 MiB of it.
func ooxmlCoreTitle(zr *zip.Reader) string {
	for _, f := range zr.File {
		if f.Name != "docProps/core.xml" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return ""
		}
		defer rc.Close()
		dec := xml.NewDecoder(io.LimitReader(rc, 1<<20))
		for {
			tok, err := dec.Token()
			if err != nil {
				return ""
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "title" && se.Name.Space == "http://purl.org/dc/elements/1.1/" {
				var s string
				if dec.DecodeElement(&s, &se) != nil {
					return ""
				}
				return s
			}
		}
	}
	return ""
}

// ---- Markdown

// frontMatterTitle reads title from a Markdown file's front matter: YAML
// between "---" lines (title: x, quoted or not, or a folded block) or
// TOML between "+++" lines (title = "x").
func frontMatterTitle(s string) string {
	s = strings.TrimPrefix(s, "\ufeff")
	var fence, sep string
	switch {
	case strings.HasPrefix(s, "---\n"), strings.HasPrefix(s, "---\r\n"):
		fence, sep = "---", ":"
	case strings.HasPrefix(s, "+++\n"), strings.HasPrefix(s, "+++\r\n"):
		fence, sep = "+++", "="
	default:
		return ""
	}
	lines := strings.Split(s[:min(len(s), 64<<10)], "\n")
	for i := 1; i < len(lines) && i < 500; i++ {
		line := strings.TrimRight(lines[i], "\r")
		if line == fence || (fence == "---" && line == "...") {
			return ""
		}
		key, val, ok := strings.Cut(line, sep)
		if !ok || !strings.EqualFold(strings.TrimSpace(key), "title") || strings.HasPrefix(key, " ") || strings.HasPrefix(key, "\t") {
			continue
		}
		val = strings.TrimSpace(val)
		if val == "|" || val == ">" || val == ">-" || val == "|-" || val == "" {
			// A block scalar: the indented lines that follow.
			var b []string
			for j := i + 1; j < len(lines) && j < i+20; j++ {
				l := strings.TrimRight(lines[j], "\r")
				if !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
					break
				}
				b = append(b, strings.TrimSpace(l))
			}
			return strings.Join(b, " ")
		}
		return unquoteScalar(val)
	}
	return ""
}

// unquoteScalar reads a YAML or TOML scalar: "double" (with escapes),
// 'single' (” for '), or plain up to a " #" comment.
func unquoteScalar(v string) string {
	switch {
	case strings.HasPrefix(v, `"`):
		if i := strings.LastIndex(v, `"`); i > 0 {
			if u, err := strconv.Unquote(v[:i+1]); err == nil {
				return u
			}
			return v[1:i]
		}
	case strings.HasPrefix(v, "'"):
		if i := strings.LastIndex(v, "'"); i > 0 {
			return strings.ReplaceAll(v[1:i], "''", "'")
		}
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = v[:i]
	}
	return v
}
