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
	Status chart
	Daily  []chart
	Days   []usageDay
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
	var statuses []bar
	for _, st := range []string{ingest.StatusQueued, ingest.StatusProcessing, ingest.StatusReady, ingest.StatusFailed} {
		statuses = append(statuses, bar{Label: st, Value: float64(d.Usage.DocumentsByStatus[st])})
	}
	d.Status = barChart("Documents by status", statuses)
	series := []struct {
		title string
		value func(usageDay) int64
	}{
		{"Embedding tokens a day", func(u usageDay) int64 { return u.EmbeddingTokens }},
		{"Searches a day", func(u usageDay) int64 { return u.Searches }},
		{"Documents uploaded a day", func(u usageDay) int64 { return u.DocumentsUploaded }},
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
		d.Daily = append(d.Daily, barChart(se.title, bars))
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
}

type bar struct {
	Label                 string
	Value                 float64
	X, Y, W, H            float64
	LabelX, LabelY        float64
	ShowLabel, ShowValue  bool
	ValueLabel, ValueText string
}

const (
	chartHeight = 160
	chartBottom = 28 // room for labels
	chartTop    = 16 // room for values over bars
)

// barChart lays out bars: wide slots for a few, narrow ones for a series
// of days, whose labels then show once a week.
func barChart(title string, bars []bar) chart {
	c := chart{Title: title, Height: chartHeight + chartBottom + chartTop, Bars: bars, LabelEvery: 1, Baseline: chartTop + chartHeight}
	slot := 20.0
	if len(bars) <= 6 {
		slot = 90
	}
	c.Width = int(slot*float64(len(bars))) + 20
	if len(bars) > 10 {
		c.LabelEvery = 7
	}
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
		b.X = 10 + float64(i)*slot + slot*0.15
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
