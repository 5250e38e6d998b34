package embedder

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// ListPrices are embedding models' list prices in USD per million input
// tokens (OpenAI's published prices; the local embedder costs nothing),
// for estimates. RAGD_EMBEDDING_PRICES adds or overrides models.
var ListPrices = map[string]float64{
	"text-embedding-3-small": 0.02,
	"text-embedding-3-large": 0.13,
	"text-embedding-ada-002": 0.10,
	LocalModel:               0,
}

// ParsePrices reads "model=usd_per_million,model=usd_per_million" over
// ListPrices.
func ParsePrices(s string) (map[string]float64, error) {
	out := maps.Clone(ListPrices)
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		model, price, ok := strings.Cut(item, "=")
		p, err := strconv.ParseFloat(strings.TrimSpace(price), 64)
		if !ok || strings.TrimSpace(model) == "" || err != nil || p < 0 || p > 1e6 {
			return nil, fmt.Errorf("%q: want model=USD per million tokens, e.g. text-embedding-3-large=0.13", item)
		}
		out[strings.TrimSpace(model)] = p
	}
	return out, nil
}

// Cost is what tokens of model cost at prices (false: no price known).
func Cost(prices map[string]float64, model string, tokens int64) (float64, bool) {
	p, ok := prices[model]
	if !ok {
		return 0, false
	}
	return float64(tokens) * p / 1e6, true
}
