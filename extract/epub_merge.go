package extract

import (
	"slices"

	"github.com/ragd/ragd/chunker"
)

// appendDoc writes ext, a document extracted on its own (an EPUB chapter,
// an e-mail's HTML body or attachment), into b as the section prefix: lead
// (a heading line, "" for none) and the text before ext's first section go
// in the section whose heading path is prefix, and each of ext's sections
// becomes a section whose heading path is prefix followed by its own. Its
// pages are kept, moved to where its text now starts. Afterwards b's
// heading path is that of ext's last text.
func appendDoc(b *builder, prefix []string, lead string, ext Extracted) {
	setPath(b, prefix)
	if lead = cleanInline(lead); lead != "" {
		b.write(lead)
		b.write("\n\n")
	}
	base := b.b.Len()
	text := ext.Text
	cursor := 0
	for _, s := range ext.Sections {
		if s.Start < cursor || s.End > len(text) || s.Start >= s.End {
			continue // not in order: that span stays in the section before
		}
		if s.Start > cursor {
			setPath(b, prefix)
			b.write(text[cursor:s.Start])
		}
		setPath(b, append(slices.Clone(prefix), s.HeadingPath...))
		b.write(text[s.Start:s.End])
		cursor = s.End
	}
	if cursor < len(text) {
		setPath(b, prefix)
		b.write(text[cursor:])
	}
	if text != "" {
		b.write("\n\n")
	}
	for _, p := range ext.Pages {
		if p.Start >= 0 && p.Start < p.End && p.End <= len(text) && !b.tooLarge {
			b.pages = append(b.pages, chunker.Page{Number: p.Number, Start: base + p.Start, End: base + p.End})
		}
	}
}

// setPath ends the current section and starts one whose heading path is
// path (unless that is the current one), without writing a heading: the heading's text is elsewhere (an
// e-mail's Subject line) or written by the caller.
func setPath(b *builder, path []string) {
	clean := make([]string, len(path))
	for i, p := range path {
		clean[i] = truncateRunes(cleanInline(p), 200)
	}
	if slices.Equal(clean, b.path) {
		return // the section goes on
	}
	b.closeSection()
	b.path = b.path[:0]
	b.levels = b.levels[:0]
	for i, p := range clean {
		b.path = append(b.path, p)
		b.levels = append(b.levels, i+1)
	}
}
