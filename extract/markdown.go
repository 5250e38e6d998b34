package extract

import (
	"context"
	"strings"
)

// extractMarkdown keeps Markdown's text as it is written (lists, emphasis
// and code read well to people and embedding models alike) but turns its
// headings, ATX (# Title) and setext (Title / ====), into sections. Lines
// inside fenced code blocks are never headings.
func extractMarkdown(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	s, err := decodeText(data)
	if err != nil {
		return Extracted{}, err
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(s, "\n")
	b := newBuilder(lim.MaxTextBytes)
	var block []string
	flush := func() {
		if len(block) > 0 {
			b.lines(block)
			block = block[:0]
		}
	}
	fence := ""
	for i := 0; i < len(lines); i++ {
		if i%1024 == 0 && ctx.Err() != nil {
			return Extracted{}, ctx.Err()
		}
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			block = append(block, line)
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			block = append(block, line)
			continue
		}
		if level, text, ok := atxHeading(line); ok {
			flush()
			b.heading(level, text)
			continue
		}
		if trimmed != "" && i+1 < len(lines) && len(block) == 0 {
			if u := strings.TrimSpace(lines[i+1]); len(u) >= 2 && (strings.Trim(u, "=") == "" || strings.Trim(u, "-") == "") {
				level := 1
				if u[0] == '-' {
					level = 2
				}
				b.heading(level, trimmed)
				i++
				continue
			}
		}
		if trimmed == "" {
			flush()
			continue
		}
		block = append(block, line)
	}
	flush()
	ext, err := b.result()
	if err != nil {
		return Extracted{}, err
	}
	// Front matter's title, else the first level-1 heading.
	ext.Title = firstTitle(frontMatterTitle(s), ext.Title)
	return ext, nil
}

// atxHeading parses "# Title", "## Title ##": up to three spaces of
// indent, one to six #, then a space or the end of the line.
func atxHeading(line string) (int, string, bool) {
	s := line
	for i := 0; i < 3 && strings.HasPrefix(s, " "); i++ {
		s = s[1:]
	}
	level := 0
	for level < len(s) && s[level] == '#' {
		level++
	}
	if level == 0 || level > 6 || (level < len(s) && s[level] != ' ' && s[level] != '\t') {
		return 0, "", false
	}
	text := strings.TrimSpace(s[level:])
	text = strings.TrimSpace(strings.TrimRight(text, "#"))
	return level, text, true
}
