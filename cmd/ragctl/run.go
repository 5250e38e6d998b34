package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
	"sigs.k8s.io/yaml"
)

const usage = `usage: ragctl [--url URL] [--key KEY] [--tenant ID] [--json] <command> [args]

  upload PATH...            upload files and folders (recursively); waits until each is ready or failed
         [--include GLOB] [--exclude GLOB] [--concurrency N] [--tag T] [--no-wait] [--duplicate]
  search QUERY              [--top-k N] [--mode hybrid|dense|sparse] [--tag T] [--agent ID]
  docs ls [--status S] [--tag T] | show ID | rm ID | reindex ID
  agents ls | show ID | create FILE | edit ID FILE     (FILE: JSON or YAML)
  keys ls | create [--name N] [--scopes a,b] | revoke ID
  tenants ls | show ID | create NAME [--slug S] [--clerk-org ID] | rm ID     (admin token)
  usage

Environment: RAGD_URL (default http://localhost:8080), RAGD_API_KEY, RAGD_TENANT.
Exit codes: 0 ok, 1 failed, 2 usage, 3 server unreachable, 4 credentials refused.`

// stringsFlag collects a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// env is what commands share.
type env struct {
	c        *client
	out      io.Writer
	errOut   io.Writer
	json     bool
	terminal bool
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, terminal bool) error {
	fs := flag.NewFlagSet("ragctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base := fs.String("url", cmp.Or(getenv("RAGD_URL"), "http://localhost:8080"), "server URL")
	key := fs.String("key", getenv("RAGD_API_KEY"), "API key or admin token")
	tenant := fs.String("tenant", getenv("RAGD_TENANT"), "tenant id, with the admin token")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return usageErr("%v\n%s", err, usage)
	}
	rest := fs.Args()
	if len(rest) == 0 || rest[0] == "help" {
		fmt.Fprintln(stdout, usage)
		if len(rest) == 0 {
			return usageErr("no command given")
		}
		return nil
	}
	if u, err := url.Parse(*base); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return usageErr("--url / RAGD_URL must be an http(s) URL, not %q", *base)
	}
	e := &env{
		c:   &client{base: strings.TrimRight(*base, "/"), key: *key, tenant: *tenant, http: &http.Client{Timeout: 0}},
		out: stdout, errOut: &lockedWriter{w: stderr}, json: *asJSON, terminal: terminal,
	}
	if e.c.key == "" {
		return usageErr("no credentials: set RAGD_API_KEY or --key")
	}
	cmd, cargs := rest[0], rest[1:]
	switch cmd {
	case "upload":
		return e.upload(ctx, cargs)
	case "search":
		return e.search(ctx, cargs)
	case "docs":
		return e.docs(ctx, cargs)
	case "agents":
		return e.agents(ctx, cargs)
	case "keys":
		return e.keys(ctx, cargs)
	case "tenants":
		return e.tenants(ctx, cargs)
	case "usage":
		return e.show(ctx, "/v1/usage")
	}
	return usageErr("unknown command %q\n%s", cmd, usage)
}

// printJSON prints v indented.
func (e *env) printJSON(v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintln(e.out, string(b))
}

// show prints the JSON object at path.
func (e *env) show(ctx context.Context, path string) error {
	var v map[string]any
	if err := e.c.do(ctx, "GET", path, nil, &v); err != nil {
		return err
	}
	e.printJSON(v)
	return nil
}

func (e *env) table() *tabwriter.Writer { return tabwriter.NewWriter(e.out, 2, 4, 2, ' ', 0) }

func one(args []string, what string) (string, error) {
	if len(args) != 1 {
		return "", usageErr("give one %s", what)
	}
	return url.PathEscape(args[0]), nil
}

func (e *env) search(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	topK := fs.Int("top-k", 0, "")
	mode := fs.String("mode", "", "")
	agent := fs.String("agent", "", "")
	var tags stringsFlag
	fs.Var(&tags, "tag", "")
	if err := fs.Parse(args); err != nil {
		return usageErr("%v", err)
	}
	query := strings.Join(fs.Args(), " ")
	if query == "" {
		return usageErr("search needs a query")
	}
	body := map[string]any{"query": query}
	if *topK > 0 {
		body["top_k"] = *topK
	}
	if *mode != "" {
		body["mode"] = *mode
	}
	if len(tags) > 0 {
		body["filter"] = map[string]any{"tags_any": []string(tags)}
	}
	path := "/v1/search"
	if *agent != "" {
		path = "/v1/agents/" + url.PathEscape(*agent) + "/search"
	}
	var res struct {
		Data []struct {
			Score         float64  `json:"score"`
			DocumentID    string   `json:"document_id"`
			DocumentTitle string   `json:"document_title"`
			Text          string   `json:"text"`
			PageStart     *int     `json:"page_start"`
			PageEnd       *int     `json:"page_end"`
			HeadingPath   []string `json:"heading_path"`
		} `json:"data"`
		Mode string `json:"mode"`
	}
	if err := e.c.do(ctx, "POST", path, body, &res); err != nil {
		return err
	}
	if e.json {
		e.printJSON(res)
		return nil
	}
	if len(res.Data) == 0 {
		fmt.Fprintln(e.out, "no results")
		return nil
	}
	for i, h := range res.Data {
		cite := h.DocumentTitle
		if h.PageStart != nil {
			cite += fmt.Sprintf(", p. %d", *h.PageStart)
			if h.PageEnd != nil && *h.PageEnd != *h.PageStart {
				cite += fmt.Sprintf("-%d", *h.PageEnd)
			}
		}
		if len(h.HeadingPath) > 0 {
			cite += " — " + strings.Join(h.HeadingPath, " › ")
		}
		text := strings.Join(strings.Fields(h.Text), " ")
		if len(text) > 300 {
			text = text[:300] + "…"
		}
		fmt.Fprintf(e.out, "%d. [%.3f] %s\n   %s\n\n", i+1, h.Score, cite, text)
	}
	return nil
}

func (e *env) docs(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErr("docs ls | show ID | rm ID | reindex ID")
	}
	switch args[0] {
	case "ls":
		fs := flag.NewFlagSet("docs ls", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		status := fs.String("status", "", "")
		tag := fs.String("tag", "", "")
		if err := fs.Parse(args[1:]); err != nil {
			return usageErr("%v", err)
		}
		q := url.Values{}
		if *status != "" {
			q.Set("status", *status)
		}
		if *tag != "" {
			q.Set("tag", *tag)
		}
		docs, err := listAll[document](ctx, e.c, "/v1/documents", q)
		if err != nil {
			return err
		}
		if e.json {
			e.printJSON(docs)
			return nil
		}
		tw := e.table()
		fmt.Fprintln(tw, "ID\tSTATUS\tTYPE\tCHUNKS\tTITLE")
		for _, d := range docs {
			chunks := "-"
			if d.ChunkCount != nil {
				chunks = fmt.Sprint(*d.ChunkCount)
			}
			status := d.Status
			if d.Error != nil {
				status += " (" + d.Error.Code + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.ID, status, d.Type, chunks, d.Title)
		}
		return tw.Flush()
	case "show":
		id, err := one(args[1:], "document id")
		if err != nil {
			return err
		}
		return e.show(ctx, "/v1/documents/"+id)
	case "rm", "reindex":
		id, err := one(args[1:], "document id")
		if err != nil {
			return err
		}
		method, path := "DELETE", "/v1/documents/"+id
		if args[0] == "reindex" {
			method, path = "POST", path+"/reindex"
		}
		var d document
		if err := e.c.do(ctx, method, path, nil, &d); err != nil {
			return err
		}
		fmt.Fprintf(e.out, "%s: %s\n", d.ID, d.Status)
		return nil
	}
	return usageErr("docs ls | show ID | rm ID | reindex ID")
}

// listAll follows next_cursor to the end.
func listAll[T any](ctx context.Context, c *client, path string, q url.Values) ([]T, error) {
	var all []T
	for {
		var p page[T]
		u := path
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		if err := c.do(ctx, "GET", u, nil, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Data...)
		if p.NextCursor == nil {
			return all, nil
		}
		q.Set("cursor", *p.NextCursor)
	}
}

// readSpec reads a JSON or YAML file as JSON.
func readSpec(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	js, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, usageErr("%s: not JSON or YAML: %v", path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, usageErr("%s: must hold an object: %v", path, err)
	}
	return m, nil
}

func (e *env) agents(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErr("agents ls | show ID | create FILE | edit ID FILE")
	}
	switch args[0] {
	case "ls":
		type agent struct {
			ID, Name, Model string
			Retrieval       struct{ Enabled bool }
		}
		list, err := listAll[agent](ctx, e.c, "/v1/agents", url.Values{})
		if err != nil {
			return err
		}
		if e.json {
			e.printJSON(list)
			return nil
		}
		tw := e.table()
		fmt.Fprintln(tw, "ID\tNAME\tMODEL\tRETRIEVAL")
		for _, a := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\n", a.ID, a.Name, a.Model, a.Retrieval.Enabled)
		}
		return tw.Flush()
	case "show":
		id, err := one(args[1:], "agent id")
		if err != nil {
			return err
		}
		return e.show(ctx, "/v1/agents/"+id)
	case "create":
		if len(args) != 2 {
			return usageErr("agents create FILE")
		}
		spec, err := readSpec(args[1])
		if err != nil {
			return err
		}
		var a map[string]any
		if err := e.c.do(ctx, "POST", "/v1/agents", spec, &a); err != nil {
			return err
		}
		e.printJSON(a)
		return nil
	case "edit":
		if len(args) != 3 {
			return usageErr("agents edit ID FILE")
		}
		spec, err := readSpec(args[2])
		if err != nil {
			return err
		}
		var a map[string]any
		if err := e.c.do(ctx, "PATCH", "/v1/agents/"+url.PathEscape(args[1]), spec, &a); err != nil {
			return err
		}
		e.printJSON(a)
		return nil
	}
	return usageErr("agents ls | show ID | create FILE | edit ID FILE")
}

func (e *env) keys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErr("keys ls | create [--name N] [--scopes a,b] | revoke ID")
	}
	switch args[0] {
	case "ls":
		type key struct {
			ID, Name, Display string
			Scopes            []string
			RevokedAt         *time.Time `json:"revoked_at"`
			LastUsedAt        *time.Time `json:"last_used_at"`
		}
		list, err := listAll[key](ctx, e.c, "/v1/api-keys", url.Values{})
		if err != nil {
			return err
		}
		if e.json {
			e.printJSON(list)
			return nil
		}
		tw := e.table()
		fmt.Fprintln(tw, "ID\tNAME\tKEY\tSCOPES\tSTATE")
		for _, k := range list {
			state := "active"
			if k.RevokedAt != nil {
				state = "revoked"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%s\n", k.ID, k.Name, k.Display, strings.Join(k.Scopes, ","), state)
		}
		return tw.Flush()
	case "create":
		fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		name := fs.String("name", "", "")
		scopes := fs.String("scopes", "", "")
		if err := fs.Parse(args[1:]); err != nil {
			return usageErr("%v", err)
		}
		body := map[string]any{"name": *name}
		if *scopes != "" {
			body["scopes"] = strings.Split(*scopes, ",")
		}
		var k struct{ ID, Key string }
		if err := e.c.do(ctx, "POST", "/v1/api-keys", body, &k); err != nil {
			return err
		}
		if e.json {
			e.printJSON(k)
			return nil
		}
		fmt.Fprintf(e.out, "key %s (shown once, keep it safe):\n%s\n", k.ID, k.Key)
		return nil
	case "revoke":
		id, err := one(args[1:], "key id")
		if err != nil {
			return err
		}
		if err := e.c.do(ctx, "DELETE", "/v1/api-keys/"+id, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.out, "revoked %s\n", args[1])
		return nil
	}
	return usageErr("keys ls | create | revoke ID")
}

func (e *env) tenants(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErr("tenants ls | show ID | create NAME | rm ID")
	}
	switch args[0] {
	case "ls":
		type tenant struct {
			ID, Name, Slug string
			ClerkOrgID     *string `json:"clerk_org_id"`
		}
		list, err := listAll[tenant](ctx, e.c, "/v1/tenants", url.Values{})
		if err != nil {
			return err
		}
		if e.json {
			e.printJSON(list)
			return nil
		}
		tw := e.table()
		fmt.Fprintln(tw, "ID\tSLUG\tNAME\tCLERK ORG")
		for _, t := range list {
			org := "-"
			if t.ClerkOrgID != nil {
				org = *t.ClerkOrgID
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Slug, t.Name, org)
		}
		return tw.Flush()
	case "show":
		id, err := one(args[1:], "tenant id")
		if err != nil {
			return err
		}
		return e.show(ctx, "/v1/tenants/"+id)
	case "create":
		fs := flag.NewFlagSet("tenants create", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		slug := fs.String("slug", "", "")
		org := fs.String("clerk-org", "", "")
		if err := fs.Parse(args[1:]); err != nil {
			return usageErr("%v", err)
		}
		name := strings.Join(fs.Args(), " ")
		if name == "" {
			return usageErr("tenants create NAME")
		}
		body := map[string]any{"name": name}
		if *slug != "" {
			body["slug"] = *slug
		}
		if *org != "" {
			body["clerk_org_id"] = *org
		}
		var t map[string]any
		if err := e.c.do(ctx, "POST", "/v1/tenants", body, &t); err != nil {
			return err
		}
		e.printJSON(t)
		return nil
	case "rm":
		id, err := one(args[1:], "tenant id")
		if err != nil {
			return err
		}
		if err := e.c.do(ctx, "DELETE", "/v1/tenants/"+id, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.out, "deleted %s\n", args[1])
		return nil
	}
	return usageErr("tenants ls | show ID | create NAME | rm ID")
}

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
