package console

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"bytes": humanBytes,
	// count is n and its noun, singular for one: "1 document", "2 documents".
	"count": func(n any, one, many string) string {
		s := fmt.Sprint(n)
		if s == "1" {
			return s + " " + one
		}
		return s + " " + many
	},
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil {
				return "never"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	},
	"join":    strings.Join,
	"percent": func(f float64) string { return strconv.Itoa(int(f*100+0.5)) + "%" },
	"deref": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
	"str": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	"pages": func(start, end *int) string {
		switch {
		case start == nil:
			return ""
		case end == nil || *end == *start:
			return "page " + strconv.Itoa(*start)
		}
		return "pages " + strconv.Itoa(*start) + "–" + strconv.Itoa(*end)
	},
	"score":     func(f float32) string { return strconv.FormatFloat(float64(f), 'f', 3, 32) },
	"segments":  segments,
	"runCounts": runCounts,
	"runClass":  runClass,
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}
