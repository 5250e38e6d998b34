package console

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/ragd/ragd/ingest"
)

// usageDay is one day of GET /v1/usage/daily.
type usageDay struct {
	Day               string `json:"day"`
	EmbeddingTokens   int64  `json:"embedding_tokens"`
	Searches          int64  `json:"searches"`
	DocumentsUploaded int64  `json:"documents_uploaded"`
	BytesUploaded     int64  `json:"bytes_uploaded"`
}

type usageData struct {
	Usage  ingest.Usage
	Quotas []quotaRow
	Status chart
	Daily  []chart
	Days   []usageDay
}

// quotaRow is one quota as the usage page shows it.
type quotaRow struct {
	Key, Name string
	Used      int64
	UsedText  string
	// Limit is nil when there is none.
	Limit     *int64
	LimitText string
	Percent   int
	// Max is the limit for the meter; past Low (80%) it warns, past High
	// (95%) it alarms. Full: nothing more fits.
	Max       int64
	Low, High float64
	Full      bool
}

func quotaRowOf(key, name string, q ingest.QuotaUse, format func(int64) string) quotaRow {
	row := quotaRow{Key: key, Name: name, Used: q.Used, UsedText: format(q.Used), Limit: q.Limit}
	if q.Limit != nil {
		row.LimitText = format(*q.Limit)
		row.Max, row.Low, row.High = *q.Limit, 0.8*float64(*q.Limit), 0.95*float64(*q.Limit)
		row.Full = q.Used >= *q.Limit
		row.Percent = 100
		if *q.Limit > 0 {
			row.Percent = min(100, int(float64(q.Used)*100/float64(*q.Limit)))
		}
	}
	return row
}

func count(n int64) string { return humanNumber(float64(n)) }

// statusClass colours each status's bar apart (failed is not ready's colour).
var statusClass = map[string]string{
	ingest.StatusQueued: "queued", ingest.StatusProcessing: "processing", ingest.StatusReady: "ready", ingest.StatusFailed: "failed",
}

func (c *Console) usage(w http.ResponseWriter, r *http.Request, s *session) {
	p := page{Title: "Usage", Nav: "usage", Session: s}
	var d usageData
	if res := c.api(r, s, http.MethodGet, "/v1/usage", nil); res.Decode(&d.Usage) != nil {
		p.Error = res.Problem().Detail
	}
	var daily struct {
		Data []usageDay `json:"data"`
	}
	if res := c.api(r, s, http.MethodGet, "/v1/usage/daily?days=30", nil); res.Decode(&daily) != nil && p.Error == "" {
		p.Error = res.Problem().Detail
	}
	d.Days = daily.Data
	q := d.Usage.Quotas
	d.Quotas = []quotaRow{
		quotaRowOf("documents", "Documents", q.Documents, count),
		quotaRowOf("stored_bytes", "Stored", q.StoredBytes, humanBytes),
		quotaRowOf("embedding_tokens_this_month", "Embedding tokens this month", q.EmbeddingTokensThisMonth, count),
	}
	var statuses []bar
	for _, st := range []string{ingest.StatusQueued, ingest.StatusProcessing, ingest.StatusReady, ingest.StatusFailed} {
		statuses = append(statuses, bar{Label: st, Value: float64(d.Usage.DocumentsByStatus[st]), Class: statusClass[st]})
	}
	d.Status = barChart("Documents by status", statuses)
	if d.Usage.Documents == 0 {
		d.Status.Empty = "No documents yet."
	}
	series := []struct {
		title, empty string
		value        func(usageDay) int64
	}{
		{"Embedding tokens a day", "No embedding tokens were billed in the last 30 days. The local embedder, which runs inside ragd, bills none; " +
			"with a provider such as OpenAI, the tokens it bills for uploads and searches show here.", func(u usageDay) int64 { return u.EmbeddingTokens }},
		{"Searches a day", "No searches in the last 30 days.", func(u usageDay) int64 { return u.Searches }},
		{"Documents uploaded a day", "No documents uploaded in the last 30 days.", func(u usageDay) int64 { return u.DocumentsUploaded }},
	}
	for _, se := range series {
		var bars []bar
		for _, day := range d.Days {
			label := day.Day
			if len(label) == len("2006-01-02") {
				label = label[5:] // MM-DD: the month and day fit under a bar
			}
			bars = append(bars, bar{Label: label, Value: float64(se.value(day))})
		}
		ch := barChart(se.title, bars)
		if ch.Max == 0 {
			ch.Empty = se.empty // an empty box would look like a fault
		}
		d.Daily = append(d.Daily, ch)
	}
	p.Data = d
	c.render(w, http.StatusOK, "usage", p)
}

// A chart is a bar chart drawn on the server as SVG: no script, and a
// table of the same numbers for screen readers.
type chart struct {
	Title         string
	Width, Height int
	Bars          []bar
	Max           float64
	Baseline      int
	// LabelEvery shows every n-th label under the bars (dates crowd).
	LabelEvery int
	// Empty, when set, is shown instead of a chart with nothing to draw.
	Empty string
}

type bar struct {
	Label string
	// Class colours the bar (the stylesheet's colour for a status).
	Class                 string
	Value                 float64
	X, Y, W, H            float64
	LabelX, LabelY        float64
	ShowLabel, ShowValue  bool
	ValueLabel, ValueText string
}

const (
	chartHeight = 160
	chartBottom = 28 // room for labels
	// Room for values over bars: on a phone the month's labels are drawn
	// at 18 units (console.css), whose digits stand 13 units over a
	// baseline 3 units above the tallest bar.
	chartTop = 24
)

// barChart lays out bars: wide slots for a few, narrow ones for a series
// of days, whose labels then show once a week.
func barChart(title string, bars []bar) chart {
	c := chart{Title: title, Height: chartHeight + chartBottom + chartTop, Bars: bars, LabelEvery: 1, Baseline: chartTop + chartHeight}
	slot, pad := 20.0, 10.0
	if len(bars) <= 6 {
		slot = 90
	}
	if len(bars) > 10 {
		// Dates under the first and last bars need room at the sides,
		// the more so on a phone, where the labels are drawn larger.
		c.LabelEvery, pad = 7, 30
	}
	c.Width = int(slot*float64(len(bars)) + 2*pad)
	for _, b := range bars {
		c.Max = max(c.Max, b.Value)
	}
	for i := range c.Bars {
		b := &c.Bars[i]
		h := 0.0
		if c.Max > 0 {
			h = b.Value / c.Max * chartHeight
		}
		b.W = slot * 0.7
		b.X = pad + float64(i)*slot + slot*0.15
		b.H = h
		b.Y = chartTop + chartHeight - h
		b.LabelX = b.X + b.W/2
		b.LabelY = float64(chartTop + chartHeight + 16)
		// Every LabelEvery-th label, and the last one when it has room.
		last := len(c.Bars) - 1
		b.ShowLabel = i%c.LabelEvery == 0 || (i == last && last%c.LabelEvery > c.LabelEvery/2)
		// The value over the bar, where it has room: over every bar of a
		// short chart, else over the highest and the last.
		b.ShowValue = b.Value > 0 && (c.LabelEvery == 1 || i == last || b.Value == c.Max)
		b.ValueText = humanNumber(b.Value)
		b.ValueLabel = fmt.Sprintf("%s: %s", b.Label, b.ValueText)
	}
	return c
}

func humanNumber(v float64) string {
	switch {
	case v >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', 1, 64) + "G"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 0, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
