package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Bounds of an EPUB's extraction, besides lim.MaxUnzippedBytes for
// everything read from the archive.
const (
	// maxEPUBParts: files in the archive. The largest books (dictionaries,
	// collected works) have a few thousand.
	maxEPUBParts = 10_000
	// maxEPUBSpine: spine items (chapters) read; the rest are left out.
	maxEPUBSpine = 5_000
	// maxEPUBXMLDepth bounds how deeply the package and navigation
	// documents nest elements (as maxOfficeXMLDepth does for office parts).
	maxEPUBXMLDepth = 256
)

// extractEPUB reads an EPUB 2 or 3 book: META-INF/container.xml names the
// package document (OPF; without a container, the archive's first .opf),
// whose spine gives the chapters in reading order. Each XHTML chapter goes
// through extractHTML and becomes one top-level section of the book,
// titled from the navigation document (the EPUB 3 nav's toc, else the
// EPUB 2 NCX) where it has an entry, else by the chapter's own first
// heading or <title>; the chapter's headings become sections under it.
// The book's title is the OPF's dc:title.
//
// A path that climbs out of the container ("../") is refused, a chapter
// that is missing or cannot be read is left out, and XML and HTML
// DOCTYPEs are never resolved: encoding/xml and the HTML parser neither
// expand declared entities nor fetch anything.
func extractEPUB(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return Extracted{}, &Error{Code: CodeUnsupportedType, Message: "the file is not a readable EPUB book (damaged zip?)", Err: err}
	}
	if len(zr.File) > maxEPUBParts {
		return Extracted{}, fail(CodeTooLarge, "the EPUB book has %d files; that is not a normal book", len(zr.File))
	}
	z := &epubZip{zr: zr, left: lim.MaxUnzippedBytes,
		tooLarge: fail(CodeTooLarge, "the EPUB book inflates to more than %d bytes", lim.MaxUnzippedBytes)}

	opfPath := ""
	if c, err := z.read("META-INF/container.xml"); err == nil {
		opfPath = epubRootfile(c)
	} else if _, ok := AsError(err); ok {
		return Extracted{}, err
	}
	if opfPath == "" {
		for _, f := range zr.File {
			if strings.HasSuffix(strings.ToLower(f.Name), ".opf") {
				opfPath = f.Name
				break
			}
		}
	}
	if opfPath == "" || !epubSafePath(opfPath) {
		return Extracted{}, fail(CodeUnsupportedType, "the EPUB book has no package document (META-INF/container.xml and .opf missing)")
	}
	opfData, err := z.read(opfPath)
	if err != nil {
		if _, ok := AsError(err); ok {
			return Extracted{}, err
		}
		return Extracted{}, &Error{Code: CodeUnsupportedType, Message: "the EPUB book's package document cannot be read", Err: err}
	}
	pkg, err := parseOPF(opfData, path.Dir(opfPath))
	if err != nil {
		return Extracted{}, err
	}

	titles := map[string]string{}
	if pkg.nav != "" {
		if d, err := z.read(pkg.nav); err == nil {
			titles = epubNavTitles(d, path.Dir(pkg.nav))
		} else if _, ok := AsError(err); ok {
			return Extracted{}, err
		}
	}
	if len(titles) == 0 && pkg.ncx != "" {
		if d, err := z.read(pkg.ncx); err == nil {
			titles = epubNCXTitles(d, path.Dir(pkg.ncx))
		} else if _, ok := AsError(err); ok {
			return Extracted{}, err
		}
	}

	b := newBuilder(lim.MaxTextBytes)
	for i, item := range pkg.spine {
		if i >= maxEPUBSpine || b.tooLarge {
			break
		}
		if err := ctx.Err(); err != nil {
			return Extracted{}, err
		}
		if !epubHTMLType(item.mediaType, item.href) {
			continue
		}
		d, err := z.read(item.href)
		if err != nil {
			if _, ok := AsError(err); ok {
				return Extracted{}, err
			}
			continue // a missing chapter: the others are still the book
		}
		ch, err := extractHTML(ctx, epubDropDoctype(d), lim)
		if err != nil {
			if e, ok := AsError(err); ok && e.Code == CodeTooLarge {
				return Extracted{}, err
			}
			if ctx.Err() != nil {
				return Extracted{}, ctx.Err()
			}
			continue // a cover image, an empty page
		}
		title := cmpOrStr(titles[item.href], firstHeading(ch), ch.Title)
		lead := title
		if first, _, _ := strings.Cut(ch.Text, "\n"); strings.EqualFold(first, title) {
			lead = "" // the chapter starts with its title already
		}
		var prefix []string
		if title != "" {
			prefix = []string{title}
		}
		appendDoc(b, prefix, lead, ch)
	}
	ext, err := b.result()
	if err != nil {
		return Extracted{}, err
	}
	ext.Title = firstTitle(pkg.title, firstHeading(ext))
	return ext, nil
}

func cmpOrStr(vs ...string) string {
	for _, v := range vs {
		if v = cleanInline(v); v != "" {
			return v
		}
	}
	return ""
}

// epubZip reads an EPUB's files within one budget of inflated bytes.
type epubZip struct {
	zr       *zip.Reader
	left     int64
	tooLarge *Error
}

// read returns the file name (a path in the container, already resolved);
// the budget exhausted is a too_large *Error, a missing file another
// error.
func (z *epubZip) read(name string) ([]byte, error) {
	if !epubSafePath(name) {
		return nil, errors.New("path outside the container")
	}
	var f *zip.File
	for _, zf := range z.zr.File {
		if zf.Name == name {
			f = zf
			break
		}
	}
	if f == nil {
		// Some books differ in case from their manifest.
		for _, zf := range z.zr.File {
			if strings.EqualFold(zf.Name, name) {
				f = zf
				break
			}
		}
	}
	if f == nil {
		return nil, errors.New("missing " + name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// Never trust the size in the zip header: read at most what is left.
	return io.ReadAll(&cappedReader{r: rc, left: &z.left, err: z.tooLarge})
}

// epubDropDoctype removes an XHTML chapter's DOCTYPE declaration, with
// its internal subset: the HTML parser resolves no entity either way, but
// would keep the end of the subset ("]>") as text.
func epubDropDoctype(d []byte) []byte {
	head := d[:min(len(d), 4096)]
	i := bytes.Index(bytes.ToUpper(head), []byte("<!DOCTYPE"))
	if i < 0 {
		return d
	}
	rest := d[i:]
	end := bytes.IndexByte(rest, '>')
	if open := bytes.IndexByte(rest, '['); open >= 0 && (end < 0 || open < end) {
		if e := bytes.Index(rest, []byte("]>")); e >= 0 {
			end = e + 1
		}
	}
	if end < 0 {
		return d
	}
	return append(d[:i:i], rest[end+1:]...)
}

// epubSafePath reports whether a resolved path stays in the container.
func epubSafePath(p string) bool {
	return p != "" && p != ".." && !strings.HasPrefix(p, "../") && !strings.HasPrefix(p, "/") && !strings.Contains(p, "\x00")
}

// epubResolve resolves href, relative to the directory dir of the file it
// is in, to a path in the container (without fragment); "" when it leaves
// the container or is not a relative reference.
func epubResolve(dir, href string) string {
	u, err := url.Parse(strings.TrimSpace(href))
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "" {
		return ""
	}
	p := u.Path
	if !strings.HasPrefix(p, "/") {
		p = path.Join(dir, p)
	} else {
		p = strings.TrimPrefix(path.Clean(p), "/")
	}
	if !epubSafePath(p) {
		return ""
	}
	return p
}

func epubHTMLType(mediaType, href string) bool {
	switch strings.ToLower(mediaType) {
	case "application/xhtml+xml", "text/html", "application/x-dtbook+xml", "text/x-oeb1-document":
		return true
	case "":
		ext := strings.ToLower(path.Ext(href))
		return ext == ".xhtml" || ext == ".html" || ext == ".htm" || ext == ".xml"
	}
	return false
}

// epubXML returns a decoder for an EPUB's XML (container, OPF, NCX):
// lenient, since books in the wild are not always well formed, and with
// any charset the file declares decoded.
func epubXML(data []byte) *xml.Decoder {
	// Garbage before the XML declaration (a BOM, stray bytes) would stop
	// the decoder at once.
	if i := bytes.Index(data, []byte("<?xml")); i > 0 && i < 1024 {
		data = data[i:]
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false
	dec.CharsetReader = emlCharsetReader
	return dec
}

// epubRootfile is container.xml's first package document's path.
func epubRootfile(data []byte) string {
	dec := epubXML(data)
	for depth := 0; ; {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxEPUBXMLDepth {
				return ""
			}
			if t.Name.Local == "rootfile" {
				if p := epubResolve("", wattr(t, "full-path")); p != "" {
					return p
				}
			}
		case xml.EndElement:
			depth--
		}
	}
}

// epubPackage is what extractEPUB takes from the OPF.
type epubPackage struct {
	title string
	spine []epubItem
	nav   string // the EPUB 3 navigation document, "" for none
	ncx   string // the EPUB 2 NCX, "" for none
}

type epubItem struct {
	href, mediaType string
}

// parseOPF reads the package document at dir: the first dc:title, the
// manifest, and the spine's items in order.
func parseOPF(data []byte, dir string) (epubPackage, error) {
	var pkg epubPackage
	type manifestItem struct {
		href, mediaType, properties string
	}
	manifest := map[string]manifestItem{}
	var idrefs []string
	tocID := ""
	dec := epubXML(data)
	depth, inTitle := 0, false
	var title strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if _, ok := AsError(err); ok {
				return pkg, err
			}
			break // what was read before the damage may still be a book
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxEPUBXMLDepth {
				return pkg, fail(CodeTooLarge, "the EPUB book's package document nests elements more than %d deep", maxEPUBXMLDepth)
			}
			switch t.Name.Local {
			case "title":
				inTitle = pkg.title == "" && title.Len() == 0
			case "item":
				manifest[wattr(t, "id")] = manifestItem{href: epubResolve(dir, wattr(t, "href")),
					mediaType: wattr(t, "media-type"), properties: wattr(t, "properties")}
			case "spine":
				tocID = wattr(t, "toc")
			case "itemref":
				if len(idrefs) < maxEPUBSpine && wattr(t, "linear") != "no" {
					idrefs = append(idrefs, wattr(t, "idref"))
				}
			}
		case xml.EndElement:
			depth--
			if t.Name.Local == "title" && inTitle {
				inTitle = false
				pkg.title = cleanInline(title.String())
			}
		case xml.CharData:
			if inTitle && title.Len() < 4096 {
				title.Write(t)
			}
		}
	}
	if len(manifest) == 0 && len(idrefs) == 0 {
		return pkg, fail(CodeUnsupportedType, "the EPUB book's package document is damaged (no manifest)")
	}
	// A part is read once, where the spine first names it: EPUB forbids
	// naming an item twice, and a spine that names one chapter 10^5
	// times would otherwise be read as 5,000 copies of it.
	seen := map[string]bool{}
	for _, id := range idrefs {
		if it, ok := manifest[id]; ok && it.href != "" && !seen[it.href] {
			seen[it.href] = true
			pkg.spine = append(pkg.spine, epubItem{href: it.href, mediaType: it.mediaType})
		}
	}
	for id, it := range manifest {
		if strings.Contains(" "+it.properties+" ", " nav ") && it.href != "" {
			pkg.nav = it.href
		}
		if (id == tocID || it.mediaType == "application/x-dtbncx+xml") && it.href != "" && pkg.ncx == "" {
			pkg.ncx = it.href
		}
	}
	return pkg, nil
}

// epubNavTitles maps the files the EPUB 3 navigation document's toc nav
// points to (resolved against dir) to their first entry's text.
func epubNavTitles(data []byte, dir string) map[string]string {
	titles := map[string]string{}
	doc, err := html.ParseWithOptions(bytes.NewReader(data), html.ParseOptionEnableScripting(false))
	if err != nil {
		return titles
	}
	nav := findFirst(doc, func(n *html.Node) bool {
		return n.DataAtom == atom.Nav && strings.Contains(" "+epubType(n)+" ", " toc ")
	})
	if nav == nil {
		nav = findFirst(doc, func(n *html.Node) bool { return n.DataAtom == atom.Nav })
	}
	if nav == nil {
		return titles
	}
	walk(nav, func(n *html.Node) bool {
		if n.DataAtom != atom.A {
			return true
		}
		p := epubResolve(dir, attr(n, "href"))
		if t := cleanInline(textOf(n)); p != "" && t != "" && titles[p] == "" {
			titles[p] = t
		}
		return false
	})
	return titles
}

// epubType is an element's epub:type attribute (the HTML parser keeps
// the prefix in the name).
func epubType(n *html.Node) string {
	for _, a := range n.Attr {
		if a.Key == "epub:type" || (a.Key == "type" && a.Namespace == "epub") {
			return a.Val
		}
	}
	return ""
}

// epubNCXTitles maps the files an EPUB 2 NCX's navPoints point to
// (resolved against dir) to their first navPoint's label.
func epubNCXTitles(data []byte, dir string) map[string]string {
	titles := map[string]string{}
	dec := epubXML(data)
	depth, inNavMap, inText := 0, false, false
	var label strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			return titles
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxEPUBXMLDepth {
				return titles
			}
			switch t.Name.Local {
			case "navMap":
				inNavMap = true
			case "navPoint":
				label.Reset()
			case "text":
				inText = inNavMap
			case "content":
				p := epubResolve(dir, wattr(t, "src"))
				if l := cleanInline(label.String()); inNavMap && p != "" && l != "" && titles[p] == "" {
					titles[p] = l
				}
			}
		case xml.EndElement:
			depth--
			switch t.Name.Local {
			case "text":
				inText = false
			case "navMap":
				inNavMap = false
			}
		case xml.CharData:
			if inText && label.Len() < 4096 {
				label.Write(t)
			}
		}
	}
}
