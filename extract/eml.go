package extract

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
)

// Bounds of an e-mail message's extraction.
const (
	// maxEMLAttachments: attachments read (extracted) per message, those of
	// enclosed messages included; the others are listed by name only.
	maxEMLAttachments = 20
	// maxEMLMessageDepth: how deep messages enclosed as message/rfc822
	// parts (a forwarded message, a bounce) are read; the top message is
	// depth 0, so a message inside a message inside a message is the last.
	maxEMLMessageDepth = 3
	// maxEMLPartDepth: how deeply multiparts may nest in one message.
	// Mail programs nest three or four levels (mixed > alternative >
	// related); deeper parts are skipped.
	maxEMLPartDepth = 16
	// maxEMLParts: MIME parts looked at per extraction; the rest are
	// skipped.
	maxEMLParts = 1000
)

// extractEML reads an Internet message (RFC 5322, MIME). The document is:
//
//   - a header block, the first lines of the text: From, To, Cc, Date and
//     Subject (RFC 2047 encoded words decoded), and "Attachments:" with the
//     name of every attachment. The extractor returns text, sections and a
//     title only, so these lines are how the headers reach the index; the
//     Subject is also the title;
//   - the body, in the section headed by the Subject: a text/plain part,
//     else the text/html part through extractHTML. In a
//     multipart/alternative the text/plain version is preferred when it has
//     text: it is what the sender's program wrote as the message's text,
//     while HTML mail is mostly layout tables, signatures and tracking, which
//     go-trafilatura may keep or drop where plain text loses nothing (the
//     HTML version is read when the plain one is missing or blank). Inline
//     text parts of a multipart/mixed follow in order;
//   - each attachment of a type ragd reads (found by content, as uploads
//     are: text, Markdown, HTML, PDF, DOCX, the office types, an enclosed
//     message) as a section of the same document headed
//     "Attachment: <name>", at most maxEMLAttachments of them, with enclosed
//     messages read maxEMLMessageDepth deep. Attachments of other types
//     (images, archives) are listed by name in the header block only.
//
// Charsets are decoded (an undeclared one is guessed), and quoted-printable
// and base64 bodies decoded. A damaged message gives what can be read: a
// missing final boundary ends the last part at the end of the file, bad
// base64 is decoded up to the damage, a header line that is not one is
// skipped, a part without a content type is text.
func extractEML(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	w := &emlWalker{ctx: ctx, lim: lim}
	return w.message(data, 0)
}

type emlWalker struct {
	ctx         context.Context
	lim         Limits
	parts       int
	attachments int // read, across enclosed messages
}

// emlContent is what walking a message's parts found.
type emlContent struct {
	body  []emlBody
	atts  []emlAttachment
	names []string // every attachment's name, for the header block
}

// emlBody is a piece of the message's body: plain text, or an extracted
// HTML part.
type emlBody struct {
	text string
	html *Extracted
}

// emlAttachment is an attachment that was read.
type emlAttachment struct {
	name string
	ext  Extracted
}

// message extracts one message (the top one or an enclosed one at depth).
func (w *emlWalker) message(data []byte, depth int) (Extracted, error) {
	h, body := parseEMLHeader(data)
	var c emlContent
	w.part(h, body, 0, depth, &c)
	if err := w.ctx.Err(); err != nil {
		return Extracted{}, err
	}

	b := newBuilder(w.lim.MaxTextBytes)
	subject := decodeEMLWords(h.Get("Subject"))
	var head []string
	for _, k := range []string{"From", "To", "Cc", "Date"} {
		if v := emlHeaderValue(h, k); v != "" {
			head = append(head, k+": "+v)
		}
	}
	if subject != "" {
		head = append(head, "Subject: "+subject)
	}
	if len(c.names) > 0 {
		head = append(head, "Attachments: "+strings.Join(c.names, ", "))
	}
	if subject != "" {
		setPath(b, []string{subject})
	}
	b.lines(head)
	for _, p := range c.body {
		if p.html != nil {
			appendDoc(b, slices.Clone(b.path), "", *p.html)
			continue
		}
		for _, para := range splitParagraphs(p.text) {
			b.lines(strings.Split(para, "\n"))
		}
	}
	for _, a := range c.atts {
		heading := "Attachment: " + a.name
		appendDoc(b, []string{heading}, heading, a.ext)
	}
	ext, err := b.result()
	if err != nil {
		return Extracted{}, err
	}
	ext.Title = firstTitle(subject)
	return ext, nil
}

// emlHeaderValue is header k, decoded: address lists as "Name <address>"
// with the names' encoded words decoded, other headers word by word.
func emlHeaderValue(h textproto.MIMEHeader, k string) string {
	raw := strings.Join(h.Values(k), ", ")
	if raw == "" {
		return ""
	}
	if k == "Date" {
		return cleanInline(raw)
	}
	p := mail.AddressParser{WordDecoder: emlWordDecoder}
	list, err := p.ParseList(raw)
	if err != nil || len(list) == 0 {
		return cleanInline(decodeEMLWords(raw))
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		if strings.Contains(a.Name, "=?") {
			// Encoded words in a quoted string: not allowed, often sent.
			a.Name = decodeEMLWords(a.Name)
		}
		switch {
		case a.Name == "":
			out = append(out, a.Address)
		case a.Address == "":
			out = append(out, a.Name)
		default:
			out = append(out, a.Name+" <"+a.Address+">")
		}
	}
	return cleanInline(strings.Join(out, ", "))
}

var emlWordDecoder = &mime.WordDecoder{CharsetReader: emlCharsetReader}

// emlCharsetReader decodes a named charset (WHATWG names and aliases).
func emlCharsetReader(charset string, r io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(strings.ToLower(strings.TrimSpace(charset)))
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(r), nil
}

// decodeEMLWords decodes a header's RFC 2047 encoded words; a header with
// undecodable words keeps them as written, and raw 8-bit bytes (not
// allowed, but common) are read as UTF-8 or, failing that, Latin-1.
func decodeEMLWords(s string) string {
	s = emlHeaderText(s)
	if d, err := emlWordDecoder.DecodeHeader(s); err == nil {
		s = d
	}
	return cleanInline(s)
}

// emlHeaderText reads a header's raw bytes: UTF-8, with the odd bad byte
// dropped (a header cut in the middle of a character), or Latin-1 when
// they are mostly not UTF-8.
func emlHeaderText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	good, bad := 0, 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			bad++
		case n > 1:
			good++
		}
		i += n
	}
	if good > bad {
		return strings.ToValidUTF8(s, "")
	}
	t, _ := decodeText([]byte(s))
	return t
}

// parseEMLHeader splits a message (or a MIME part) into its header and
// body, leniently: folded lines are unfolded, a line that is no header
// field is skipped, and an mbox "From " line is ignored. The header ends
// at the first empty line; a message without one is all header.
func parseEMLHeader(data []byte) (textproto.MIMEHeader, []byte) {
	h := textproto.MIMEHeader{}
	var last string
	pos := 0
	for pos < len(data) {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end >= 0 {
			end += pos
			next = end + 1
		} else {
			end = len(data)
		}
		line := bytes.TrimRight(data[pos:end], "\r")
		pos = next
		if len(line) == 0 {
			return h, data[pos:]
		}
		if line[0] == ' ' || line[0] == '\t' {
			if vs := h[last]; len(vs) > 0 {
				vs[len(vs)-1] += " " + strings.TrimSpace(string(line))
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			last = ""
			continue // "From " separators and lines that are not fields
		}
		last = textproto.CanonicalMIMEHeaderKey(string(name))
		h[last] = append(h[last], strings.TrimSpace(string(value)))
	}
	return h, nil
}

// emlMediaType parses a Content-Type or Content-Disposition value,
// leniently when mime.ParseMediaType refuses it ("boundary = x", an empty
// type): the value before the first ";", lower case, and name=value
// parameters.
func emlMediaType(v string) (string, map[string]string) {
	if v == "" {
		return "", map[string]string{}
	}
	if mt, params, err := mime.ParseMediaType(v); err == nil {
		return mt, params
	}
	fields := strings.Split(v, ";")
	mt := strings.ToLower(strings.TrimSpace(fields[0]))
	params := map[string]string{}
	for _, f := range fields[1:] {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.Trim(strings.TrimSpace(val), `"`)
		if _, dup := params[k]; !dup && k != "" {
			params[k] = val
		}
	}
	return mt, params
}

// part walks one MIME entity at multipart depth pd of the message at
// message depth md, adding what it holds to c.
func (w *emlWalker) part(h textproto.MIMEHeader, body []byte, pd, md int, c *emlContent) {
	if w.parts++; w.parts > maxEMLParts || pd > maxEMLPartDepth || w.ctx.Err() != nil {
		return
	}
	mt, params := emlMediaType(h.Get("Content-Type"))
	disp, dparams := emlMediaType(h.Get("Content-Disposition"))
	name := decodeEMLWords(cmp.Or(dparams["filename"], params["name"]))
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	if name == "." || name == "/" {
		name = ""
	}

	if strings.HasPrefix(mt, "multipart/") {
		parts := splitMultipart(body, params["boundary"], maxEMLParts)
		if len(parts) == 0 {
			// No part could be found (no or a wrong boundary): the body as
			// text is what can be read.
			c.body = append(c.body, emlBody{text: emlText(body, h, params)})
			return
		}
		if mt == "multipart/alternative" {
			w.alternative(parts, pd, md, c)
			return
		}
		for _, p := range parts {
			ph, pb := parseEMLHeader(p)
			w.part(ph, pb, pd+1, md, c)
		}
		return
	}

	data := emlDecodeBody(body, h.Get("Content-Transfer-Encoding"))
	attached := disp == "attachment" || name != ""
	switch {
	case mt == "message/rfc822" || mt == "message/global":
		if name == "" {
			sub, _ := parseEMLHeader(data)
			name = cmp.Or(decodeEMLWords(sub.Get("Subject")), "message")
		}
		w.attachment(name, data, TypeEML, md, c)
	case !attached && (mt == "" || mt == "text/plain" || mt == "message/delivery-status"):
		c.body = append(c.body, emlBody{text: emlText(data, h, params)})
	case !attached && mt == "text/html":
		ext, err := extractHTML(w.ctx, []byte(emlText(data, h, params)), w.lim)
		if err == nil {
			c.body = append(c.body, emlBody{html: &ext})
		}
	case strings.HasSuffix(mt, "-signature") || mt == "application/pkcs7-mime":
		// A signature is no content.
	case name == "" && !strings.HasPrefix(mt, "text/"):
		// An unnamed inline image or the like: nothing to list.
	default:
		if name == "" {
			name = "attachment " + mt
		}
		if strings.HasPrefix(mt, "text/") && mt != "text/html" {
			data = []byte(emlText(data, h, params))
		}
		w.attachment(name, data, "", md, c)
	}
}

// alternative reads a multipart/alternative: its text/plain part if that
// has text, else the last (richest) part that gives any.
func (w *emlWalker) alternative(parts [][]byte, pd, md int, c *emlContent) {
	tries := make([]emlContent, len(parts))
	plain := -1
	for i, p := range parts {
		ph, pb := parseEMLHeader(p)
		w.part(ph, pb, pd+1, md, &tries[i])
		mt, _ := emlMediaType(ph.Get("Content-Type"))
		if (mt == "text/plain" || mt == "") && plain < 0 && emlHasText(tries[i]) {
			plain = i
		}
	}
	if plain >= 0 {
		w.chose(c, tries, plain)
		return
	}
	for i := len(tries) - 1; i >= 0; i-- {
		if emlHasText(tries[i]) || i == 0 {
			w.chose(c, tries, i)
			return
		}
	}
}

// chose adds the alternative tries[i] to c, and the attachments of the
// others that it does not have (a PDF that only the HTML version carries).
func (w *emlWalker) chose(c *emlContent, tries []emlContent, i int) {
	emlMerge(c, tries[i])
	have := map[string]bool{}
	for _, n := range tries[i].names {
		have[n] = true
	}
	for j, o := range tries {
		if j == i {
			continue
		}
		for _, n := range o.names {
			if !have[n] {
				c.names = append(c.names, n)
				have[n] = true
			}
		}
		for _, a := range o.atts {
			if !slices.ContainsFunc(c.atts, func(x emlAttachment) bool { return x.name == a.name }) {
				c.atts = append(c.atts, a)
			}
		}
	}
}

func emlHasText(c emlContent) bool {
	for _, p := range c.body {
		if strings.TrimSpace(p.text) != "" || (p.html != nil && p.html.Text != "") {
			return true
		}
	}
	return len(c.atts) > 0
}

func emlMerge(c *emlContent, o emlContent) {
	c.body = append(c.body, o.body...)
	c.atts = append(c.atts, o.atts...)
	c.names = append(c.names, o.names...)
}

// attachment reads an attachment of type typ ("": found by content) into
// c, within the bounds; one that cannot be read is listed by name only.
func (w *emlWalker) attachment(name string, data []byte, typ Type, md int, c *emlContent) {
	c.names = append(c.names, cleanInline(name))
	if w.attachments >= maxEMLAttachments || len(data) == 0 {
		return
	}
	if typ == "" {
		t, ok := Detect(bytes.NewReader(data), int64(len(data)), name)
		if !ok {
			return
		}
		typ = t
	}
	var ext Extracted
	var err error
	switch typ {
	case TypeEML:
		if md+1 > maxEMLMessageDepth {
			return
		}
		w.attachments++
		ext, err = w.message(data, md+1)
	default:
		ex, ok := Builtin()[typ]
		if !ok {
			return
		}
		w.attachments++
		ext, err = ex(w.ctx, data, "", w.lim)
	}
	if err != nil {
		return // listed by name; its failure is not the message's
	}
	c.atts = append(c.atts, emlAttachment{name: name, ext: ext})
}

// splitMultipart returns the parts of a multipart body, at most max: the
// bytes between delimiter lines ("--boundary"), up to the close delimiter
// ("--boundary--") or, when that is missing, the end of the body.
func splitMultipart(body []byte, boundary string, max int) [][]byte {
	if boundary == "" {
		return nil
	}
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1
	for pos := 0; pos < len(body); {
		end := bytes.IndexByte(body[pos:], '\n')
		next := len(body)
		if end >= 0 {
			end += pos
			next = end + 1
		} else {
			end = len(body)
		}
		line := bytes.TrimRight(body[pos:end], " \t\r")
		if rest, ok := bytes.CutPrefix(line, delim); ok && (len(rest) == 0 || string(rest) == "--") {
			if start >= 0 {
				e := pos
				if e > start && body[e-1] == '\n' {
					e--
				}
				if e > start && body[e-1] == '\r' {
					e--
				}
				parts = append(parts, body[start:e])
				if len(parts) >= max {
					return parts
				}
			}
			if len(rest) > 0 {
				return parts
			}
			start = next
		}
		pos = next
	}
	if start >= 0 && start < len(body) {
		parts = append(parts, body[start:])
	}
	return parts
}

// emlDecodeBody undoes a Content-Transfer-Encoding. Damaged base64 or
// quoted-printable gives what was decoded before the damage.
func emlDecodeBody(body []byte, cte string) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			switch {
			case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
				clean = append(clean, c)
			case c == '=':
				// Padding: the data ends here (what follows is not base64).
				goto decode
			}
		}
	decode:
		if len(clean)%4 == 1 {
			clean = clean[:len(clean)-1]
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n]
	case "quoted-printable":
		out, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		return out
	}
	return body
}

// emlText decodes a text part to UTF-8 by its charset. A part whose
// bytes are UTF-8 is read as UTF-8 whatever it declares when it declares
// ASCII or nothing (mislabelled mail is common); one that declares no
// charset, or ASCII, and is not UTF-8 has its charset guessed.
func emlText(data []byte, h textproto.MIMEHeader, params map[string]string) string {
	cs := strings.ToLower(strings.Trim(strings.TrimSpace(params["charset"]), `"`))
	switch cs {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "unknown-8bit", "x-unknown":
		if utf8.Valid(data) {
			return string(data)
		}
		if cs == "utf-8" || cs == "utf8" {
			return strings.ToValidUTF8(string(data), "\uFFFD")
		}
		if s, ok := guessCharset(data); ok {
			return s
		}
		cs = "windows-1252"
	}
	if s, ok := decodeCharset(data, cs); ok {
		return s
	}
	if utf8.Valid(data) {
		return string(data)
	}
	s, _ := decodeText(bytes.ReplaceAll(data, []byte{0}, nil))
	return s
}
