package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"text/tabwriter"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

const defaultURL = "http://localhost:8080"

// env is what commands share: the global flags, the client they make, and
// where and how to print.
type env struct {
	getenv   func(string) string
	out      io.Writer
	errOut   io.Writer
	terminal bool

	// Global flags; --key and --tenant fall back to the environment when
	// not given (see connect).
	url, key, tenant string
	json             bool
	global           *pflag.FlagSet

	c *client
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// run runs one ragctl command line. Every error it returns is an
// *exitError carrying the exit code: cobra's own errors (an unknown command
// or flag, wrong arguments) are usage errors.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, terminal bool) error {
	e := &env{getenv: getenv, out: stdout, errOut: &lockedWriter{w: stderr}, terminal: terminal}
	root := e.rootCommand()
	root.SetArgs(longSingleDash(root, args[1:]))
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return nil
	}
	var ex *exitError
	if errors.As(err, &ex) {
		return err
	}
	if cmd == nil {
		cmd = root
	}
	return usageErr("%s\nRun '%s --help' for usage.", strings.TrimRight(err.Error(), "\n"), cmd.CommandPath())
}

func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "ragctl",
		Short: "ragd's command line client",
		Long: `ragctl is ragd's command line client: upload files and folders with
progress bars, search, and manage documents, agents, keys and tenants.

Environment:
  RAGD_URL      the server (default ` + defaultURL + `)
  RAGD_API_KEY  a tenant key, or the admin token
  RAGD_TENANT   with the admin token: the tenant to act for

Exit codes: 0 ok, 1 failed, 2 usage, 3 server unreachable, 4 credentials refused.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Without a command: the help, and a usage error.
		RunE: func(cmd *cobra.Command, args []string) error {
			_ = cmd.Help()
			return usageErr("no command given")
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&e.url, "url", cmp.Or(e.getenv("RAGD_URL"), defaultURL), "server URL (env RAGD_URL)")
	pf.StringVar(&e.key, "key", "", "API key or admin token (env RAGD_API_KEY)")
	pf.StringVar(&e.tenant, "tenant", e.getenv("RAGD_TENANT"), "with the admin token: the tenant to act for (env RAGD_TENANT)")
	pf.BoolVar(&e.json, "json", false, "print JSON")
	e.global = pf
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v\nRun '%s --help' for usage.", err, c.CommandPath())
	})

	root.AddCommand(e.uploadCommand(), e.searchCommand(), e.evalCommand())
	for _, r := range e.resources() {
		root.AddCommand(r)
	}
	root.AddCommand(&cobra.Command{
		Use:   "usage",
		Short: "the tenant's usage and quotas",
		Args:  exactArgs(0),
		RunE: e.action(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			var v json.RawMessage
			if err := e.c.do(ctx, "GET", "/v1/usage", nil, &v); err != nil {
				return err
			}
			return e.printAnswer(v)
		}),
	})
	return root
}

// connect checks the global settings and makes the client. Commands that
// talk to the server call it (through action) before anything else, so
// that help and completion work without credentials.
func (e *env) connect() error {
	if e.c != nil {
		return nil
	}
	if u, err := url.Parse(e.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErr("--url / RAGD_URL must be an http(s) URL, not %q", e.url)
	}
	key := e.key
	if !e.global.Changed("key") {
		key = e.getenv("RAGD_API_KEY")
	}
	if key == "" {
		return usageErr("no credentials: set RAGD_API_KEY or --key")
	}
	e.c = &client{base: strings.TrimRight(e.url, "/"), key: key, tenant: e.tenant, http: &http.Client{},
		notify: func(msg string) { fmt.Fprintln(e.errOut, msg) }}
	return nil
}

// action makes a command's RunE: connect first, then fn; an error that is
// not already an *exitError means the operation failed (exit 1).
func (e *env) action(fn func(ctx context.Context, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := e.connect(); err != nil {
			return err
		}
		err := fn(cmd.Context(), cmd, args)
		var ex *exitError
		if err != nil && !errors.As(err, &ex) {
			return &exitError{exitFailed, err.Error()}
		}
		return err
	}
}

// exactArgs accepts n arguments; the usage line names them.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("usage: %s", cmd.UseLine())
		}
		return nil
	}
}

// minArgs accepts n or more arguments.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErr("usage: %s", cmd.UseLine())
		}
		return nil
	}
}

// group is a command that only holds commands (docs, agents...): run
// alone or with an unknown command it is a usage error, with suggestions.
func group(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var names []string
			for _, c := range cmd.Commands() {
				if c.IsAvailableCommand() {
					names = append(names, c.Name())
				}
			}
			if len(args) == 0 {
				return usageErr("%s needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return usageErr("%s (commands: %s)", msg, strings.Join(names, ", "))
		},
	}
}

// longFlag is an argument that Go's flag package read as a long flag:
// -json, -top-k=5.
var longFlag = regexp.MustCompile(`^-([a-z][a-z0-9-]+)(=.*)?$`)

// longSingleDash rewrites -name to --name where name is one of ragctl's
// long flags, as ragctl accepted before it used pflag (which reads -abc
// as the shorthands a, b, c). Arguments after "--" are left alone.
func longSingleDash(root *cobra.Command, args []string) []string {
	names := map[string]bool{"help": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		add := func(f *pflag.Flag) { names[f.Name] = true }
		c.Flags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if m := longFlag.FindStringSubmatch(a); m != nil && names[m[1]] {
			a = "-" + a
		}
		out = append(out, a)
	}
	return out
}

// printJSON prints v indented.
func (e *env) printJSON(v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintln(e.out, string(b))
}

// printAnswer prints an answer for people as "key: value" lines, nested
// fields indented, in the server's field order (YAML, which JSON is a
// form of), or, with --json, the JSON itself.
func (e *env) printAnswer(raw json.RawMessage) error {
	if e.json {
		return e.printRaw(raw)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(raw, &n); err != nil {
		return fmt.Errorf("unreadable answer from the server: %w", err)
	}
	blockStyle(&n)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return fmt.Errorf("unreadable answer from the server: %w", err)
	}
	_, err := e.out.Write(b.Bytes())
	return err
}

// blockStyle turns JSON's flow style into YAML's block style, and keeps
// strings plain where YAML can.
func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		n.Style &^= yaml.DoubleQuotedStyle | yaml.FlowStyle
	} else {
		n.Style &^= yaml.FlowStyle
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// printRaw prints a JSON answer indented, in the server's field order.
func (e *env) printRaw(raw json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return fmt.Errorf("unreadable answer from the server: %w", err)
	}
	b.WriteByte('\n')
	_, err := e.out.Write(b.Bytes())
	return err
}

func (e *env) table() *tabwriter.Writer { return tabwriter.NewWriter(e.out, 2, 4, 2, ' ', 0) }

func (e *env) searchCommand() *cobra.Command {
	var (
		topK        int
		mode, agent string
		tags        []string
		full        bool
		threshold   float64
	)
	cmd := &cobra.Command{
		Use:   "search QUERY...",
		Short: "the passages that best answer a question",
		Long: `search prints the passages that best answer QUERY (its words joined by
spaces), each with its relevance (0 to 1, the same scale for every query),
its document's title, pages and headings, and a snippet of about 200
characters around the query's words (in bold on a terminal); --full prints
whole passages instead. Passages below the threshold (--threshold, else the
agent's, else the server's default for the mode) are left out, and when
none is left it says that the documents hold nothing relevant. --json
prints the server's answer, whole.`,
		Args: minArgs(1),
		RunE: e.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			query := strings.Join(args, " ")
			if strings.TrimSpace(query) == "" {
				return usageErr("search needs a query")
			}
			body := map[string]any{"query": query}
			if topK > 0 {
				body["top_k"] = topK
			}
			if mode != "" {
				body["mode"] = mode
			}
			if len(tags) > 0 {
				body["filter"] = map[string]any{"tags_any": tags}
			}
			if cmd.Flags().Changed("threshold") {
				body["score_threshold"] = threshold
			}
			path := "/v1/search"
			if agent != "" {
				path = "/v1/agents/" + url.PathEscape(agent) + "/search"
			}
			var raw json.RawMessage
			if err := e.c.do(ctx, "POST", path, body, &raw); err != nil {
				return err
			}
			if e.json {
				return e.printRaw(raw)
			}
			return e.printHits(raw, full)
		}),
	}
	f := cmd.Flags()
	f.IntVar(&topK, "top-k", 0, "how many passages (server default 8)")
	f.StringVar(&mode, "mode", "", "hybrid, dense or sparse (default hybrid)")
	f.StringArrayVar(&tags, "tag", nil, "only documents with one of these tags (repeatable)")
	f.StringVar(&agent, "agent", "", "search with this agent's retrieval settings")
	f.BoolVar(&full, "full", false, "print each passage whole, not its snippet")
	f.Float64Var(&threshold, "threshold", 0, "the relevance (0 to 1) a passage needs; 0 prints every one (default: the agent's, else the server's for the mode)")
	_ = cmd.RegisterFlagCompletionFunc("mode", cobra.FixedCompletions([]string{"hybrid", "dense", "sparse"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("agent", e.completeIDs("/v1/agents"))
	return cmd
}

// span is a highlight: runes [Start, End) of a text.
type span struct{ Start, End int }

// hitSection is a part of a hit's chunk under one heading path.
type hitSection struct {
	HeadingPath []string `json:"heading_path"`
	CharStart   int      `json:"char_start"`
	CharEnd     int      `json:"char_end"`
	PageStart   int      `json:"page_start"`
	PageEnd     int      `json:"page_end"`
}

// matchedSection is the section of a chunk of several that holds the most
// of its highlights (code points of the chunk, which starts at charStart
// in the document), the first of those tied; false for a chunk of one
// section or none, or without highlights.
func matchedSection(sections []hitSection, charStart int, highlights []span) (hitSection, bool) {
	if len(sections) < 2 || len(highlights) == 0 {
		return hitSection{}, false
	}
	best, most := -1, 0
	for i, sec := range sections {
		n := 0
		for _, h := range highlights {
			if at := charStart + h.Start; at >= sec.CharStart && at < sec.CharEnd {
				n++
			}
		}
		if n > most {
			best, most = i, n
		}
	}
	if best < 0 {
		return hitSection{}, false
	}
	return sections[best], true
}

// printHits prints search results for people: each hit's score, title,
// pages and headings, then its snippet (or, with full, its whole text),
// the query's words in bold on a terminal.
func (e *env) printHits(raw json.RawMessage, full bool) error {
	var res struct {
		NoRelevant bool     `json:"no_relevant_passages"`
		Threshold  *float64 `json:"score_threshold"`
		Data       []struct {
			Score           float64      `json:"score"`
			Relevance       *float64     `json:"relevance"`
			DocumentTitle   string       `json:"document_title"`
			Text            string       `json:"text"`
			PageStart       *int         `json:"page_start"`
			PageEnd         *int         `json:"page_end"`
			HeadingPath     []string     `json:"heading_path"`
			Snippet         *string      `json:"snippet"`
			Highlights      []span       `json:"highlights"`
			ChunkHighlights []span       `json:"chunk_highlights"`
			CharStart       int          `json:"char_start"`
			Sections        []hitSection `json:"sections"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("unreadable answer from the server: %w", err)
	}
	if len(res.Data) == 0 {
		if res.Threshold != nil && *res.Threshold > 0 {
			fmt.Fprintf(e.out, "no relevant passages: nothing reached the threshold %g (--threshold 0 shows the nearest)\n", *res.Threshold)
		} else {
			fmt.Fprintln(e.out, "no results")
		}
		return nil
	}
	for i, h := range res.Data {
		cite := h.DocumentTitle
		pageStart, pageEnd, path := h.PageStart, h.PageEnd, h.HeadingPath
		// A chunk of several small sections (slides, pages) cites the one
		// its matches are in.
		if sec, ok := matchedSection(h.Sections, h.CharStart, h.ChunkHighlights); ok {
			path = sec.HeadingPath
			if sec.PageStart > 0 {
				pageStart, pageEnd = &sec.PageStart, &sec.PageEnd
			}
		}
		if pageStart != nil {
			cite += fmt.Sprintf(", p. %d", *pageStart)
			if pageEnd != nil && *pageEnd != *pageStart {
				cite += fmt.Sprintf("-%d", *pageEnd)
			}
		}
		if len(path) > 0 {
			cite += " — " + strings.Join(path, " › ")
		}
		var text string
		switch {
		case full:
			text = strings.TrimSpace(indent(highlight(h.Text, h.ChunkHighlights, e.terminal)))
		case h.Snippet != nil:
			text = oneLine(highlight(*h.Snippet, h.Highlights, e.terminal))
		default: // an older server: the chunk's beginning
			text = strings.Join(strings.Fields(h.Text), " ")
			if r := []rune(text); len(r) > 300 {
				text = string(r[:300]) + "…"
			}
		}
		score := h.Score
		if h.Relevance != nil { // a server from before relevance: its score
			score = *h.Relevance
		}
		fmt.Fprintf(e.out, "%d. [%.3f] %s\n   %s\n\n", i+1, score, cite, text)
	}
	return nil
}

// highlight puts the spans of text (in runes) in bold when bold is set,
// skipping any out of order or bounds; it drops the text's control
// characters but line breaks and tabs (a document's escape sequences must
// not reach the terminal).
func highlight(text string, spans []span, bold bool) string {
	r := []rune(text)
	var b strings.Builder
	at := 0
	write := func(rs []rune) {
		for _, c := range rs {
			if c == '\n' || c == '\t' || !unicode.IsControl(c) {
				b.WriteRune(c)
			}
		}
	}
	if bold {
		for _, s := range spans {
			if s.Start < at || s.End <= s.Start || s.End > len(r) {
				continue
			}
			write(r[at:s.Start])
			b.WriteString("\x1b[1m")
			write(r[s.Start:s.End])
			b.WriteString("\x1b[0m")
			at = s.End
		}
	}
	write(r[at:])
	return b.String()
}

// oneLine folds a snippet's white space (line breaks included) to single
// spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// indent puts a whole passage's lines under its citation.
func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n   ") }

// lockedWriter lets concurrent uploads print whole lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
