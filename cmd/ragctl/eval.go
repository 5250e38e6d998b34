package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// evalOptions are eval's flags.
type evalOptions struct {
	agent    string
	apply    bool
	k        int
	perQuery bool
	configs  []string
}

func (e *env) evalCommand() *cobra.Command {
	var o evalOptions
	cmd := &cobra.Command{
		Use:   "eval FILE.jsonl",
		Short: "score judged queries over retrieval configurations and print a table",
		Long: `eval sends judged queries to POST /v1/evaluations, waits for the job
and prints each configuration's nDCG@10, recall@k and MRR, best marked.
FILE holds one judged query per line, as the API takes it:

  {"query": "how many vacation days", "relevant": [{"document_id": "…", "grade": 2}]}
  {"query": "expense deadline", "relevant": [{"external_id": "kb-17"}], "filter": {"tags_any": ["finance"]}}
  {"query": "who won the football final", "relevant": []}

A query with "relevant": [] is one the documents do not answer: right only
when nothing reaches the threshold. With such queries the table adds the
share each configuration answers with nothing and the threshold that would
serve all the queries best. Without --config it compares sparse, dense, and
each fusion with three weightings. --agent ID evaluates for that agent (its
tags filter the queries, its configuration is compared); --apply then sets
the agent's retrieval mode, fusion and weights to the best, and its
threshold to the fitted one.`,
		Args: exactArgs(1),
		RunE: e.action(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return e.eval(ctx, args[0], o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.agent, "agent", "", "evaluate for this agent")
	f.BoolVar(&o.apply, "apply", false, "with --agent: set the agent's retrieval settings to the best configuration")
	f.IntVar(&o.k, "k", 0, "depth of recall@k (server default 10)")
	f.BoolVar(&o.perQuery, "per-query", false, "also print each query's nDCG@10 under the best configuration")
	f.StringArrayVar(&o.configs, "config", nil, `a configuration to compare, as MODE[:FUSION[:DENSE/SPARSE]]: "sparse", "hybrid:convex:0.3/0.7" (repeatable)`)
	_ = cmd.RegisterFlagCompletionFunc("agent", e.completeIDs("/v1/agents"))
	return cmd
}

// parseConfig reads MODE[:FUSION[:DENSE/SPARSE]].
func parseConfig(s string) (map[string]any, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 || parts[0] == "" {
		return nil, usageErr("--config %q: want MODE[:FUSION[:DENSE/SPARSE]]", s)
	}
	c := map[string]any{"mode": parts[0]}
	if len(parts) > 1 {
		c["fusion"] = parts[1]
	}
	if len(parts) > 2 {
		var d, sp float64
		if _, err := fmt.Sscanf(parts[2], "%g/%g", &d, &sp); err != nil {
			return nil, usageErr("--config %q: weights must be DENSE/SPARSE, e.g. 0.3/0.7", s)
		}
		c["weights"] = map[string]float64{"dense": d, "sparse": sp}
	}
	return c, nil
}

// readJudged reads a JSON Lines file of judged queries; blank lines and
// lines starting with # are skipped.
func readJudged(path string) ([]json.RawMessage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	defer f.Close()
	var out []json.RawMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !json.Valid([]byte(line)) {
			return nil, usageErr("%s:%d: not a JSON object", path, n)
		}
		out = append(out, json.RawMessage(line))
	}
	if err := sc.Err(); err != nil {
		return nil, usageErr("%s: %v", path, err)
	}
	if len(out) == 0 {
		return nil, usageErr("%s: no judged queries", path)
	}
	return out, nil
}

type evalResult struct {
	Name   string `json:"name"`
	Config struct {
		Mode    string `json:"mode"`
		Fusion  string `json:"fusion"`
		Weights *struct {
			Dense, Sparse float64
		} `json:"weights"`
	} `json:"config"`
	Mean struct {
		NDCG   float64 `json:"ndcg_at_10"`
		Recall float64 `json:"recall_at_k"`
		MRR    float64 `json:"mrr"`
	} `json:"mean"`
	NoAnswer *float64 `json:"no_answer"`
	Fit      *struct {
		Threshold float64 `json:"score_threshold"`
		Overall   float64 `json:"overall"`
		NoAnswer  float64 `json:"no_answer"`
	} `json:"fitted_threshold"`
	PerQuery []struct {
		NDCG float64 `json:"ndcg_at_10"`
	} `json:"per_query"`
}

type evaluation struct {
	ID       string       `json:"id"`
	Status   string       `json:"status"`
	Progress float64      `json:"progress"`
	Queries  int          `json:"queries"`
	Unanswer int          `json:"unanswerable_queries"`
	K        int          `json:"k"`
	Results  []evalResult `json:"results"`
	Best     *evalResult  `json:"best"`
	Error    *string      `json:"error"`
}

func (e *env) eval(ctx context.Context, path string, o evalOptions) error {
	if o.apply && o.agent == "" {
		return usageErr("--apply needs --agent")
	}
	queries, err := readJudged(path)
	if err != nil {
		return err
	}
	body := map[string]any{"queries": queries, "per_query": o.perQuery}
	if o.agent != "" {
		body["agent_id"] = o.agent
	}
	if o.k != 0 {
		body["k"] = o.k
	}
	var configs []map[string]any
	for _, s := range o.configs {
		c, err := parseConfig(s)
		if err != nil {
			return err
		}
		configs = append(configs, c)
	}
	if configs != nil {
		body["configs"] = configs
	}
	var ev evaluation
	if err := e.c.do(ctx, "POST", "/v1/evaluations", body, &ev); err != nil {
		return err
	}
	var raw json.RawMessage
	bar := e.bar(100, "evaluating", false)
	for ev.Status == "queued" || ev.Status == "running" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if err := e.c.do(ctx, "GET", "/v1/evaluations/"+ev.ID, nil, &raw); err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			return fmt.Errorf("unreadable answer from the server: %w", err)
		}
		_ = bar.Set(int(ev.Progress * 100))
	}
	_ = bar.Finish()
	if ev.Status != "succeeded" {
		msg := "unknown error"
		if ev.Error != nil {
			msg = *ev.Error
		}
		return fmt.Errorf("evaluation %s %s: %s", ev.ID, ev.Status, msg)
	}
	if o.apply {
		if err := e.c.do(ctx, "POST", "/v1/evaluations/"+ev.ID+"/apply", map[string]string{"agent_id": o.agent}, nil); err != nil {
			return err
		}
	}
	if e.json {
		return e.printRaw(raw)
	}
	tw := e.table()
	if ev.Unanswer > 0 {
		// Unanswerable queries: what each configuration answers with
		// nothing, and the threshold that would serve all queries best.
		fmt.Fprintf(tw, "CONFIGURATION\tNDCG@10\tRECALL@%d\tMRR\tNO ANSWER\tFITTED THRESHOLD\tNO ANSWER THERE\t\n", ev.K)
	} else {
		fmt.Fprintf(tw, "CONFIGURATION\tNDCG@10\tRECALL@%d\tMRR\t\n", ev.K)
	}
	for _, r := range ev.Results {
		mark := ""
		if ev.Best != nil && r.Name == ev.Best.Name {
			mark = "best"
		}
		if ev.Unanswer > 0 && r.NoAnswer != nil && r.Fit != nil {
			fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.0f%%\t%.2f\t%.0f%%\t%s\n", r.Name, r.Mean.NDCG, r.Mean.Recall, r.Mean.MRR,
				100**r.NoAnswer, r.Fit.Threshold, 100*r.Fit.NoAnswer, mark)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%s\n", r.Name, r.Mean.NDCG, r.Mean.Recall, r.Mean.MRR, mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.out, "%d queries (%d unanswerable), evaluation %s\n", ev.Queries, ev.Unanswer, ev.ID)
	if o.apply && ev.Best != nil {
		fmt.Fprintf(e.out, "agent %s now searches with %s\n", o.agent, ev.Best.Name)
		if f := ev.Best.Fit; f != nil {
			fmt.Fprintf(e.out, "and score_threshold %.2f\n", f.Threshold)
		}
	}
	if o.perQuery && ev.Best != nil {
		for _, r := range ev.Results {
			if r.Name != ev.Best.Name {
				continue
			}
			fmt.Fprintf(e.out, "\nnDCG@10 per query (%s):\n", r.Name)
			for i, q := range r.PerQuery {
				var j struct{ Query string }
				_ = json.Unmarshal(queries[i], &j)
				fmt.Fprintf(e.out, "%.3f  %s\n", q.NDCG, j.Query)
			}
		}
	}
	return nil
}
