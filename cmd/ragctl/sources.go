package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// source is what ragctl shows of a website, sitemap or URL source.
type source struct {
	ID       string     `json:"id"`
	Type     string     `json:"type"`
	URL      string     `json:"url"`
	Schedule *string    `json:"schedule"`
	Status   string     `json:"status"`
	Pages    int        `json:"pages"`
	LastRun  *sourceRun `json:"last_run"`
}

// sourceRun is one crawl of a source, with what it found: the fields of
// the API's run (sources.Run) that ragctl prints, declared here because
// ragctl links no server package.
type sourceRun struct {
	ID        string     `json:"id"`
	Trigger   string     `json:"trigger"`
	Status    string     `json:"status"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	Fetched   int        `json:"fetched"`
	New       int        `json:"new"`
	Changed   int        `json:"changed"`
	Unchanged int        `json:"unchanged"`
	Removed   int        `json:"removed"`
	Failed    int        `json:"failed"`
	Truncated bool       `json:"truncated"`
	Error     *string    `json:"error"`
	Failures  []struct {
		URL    string `json:"url"`
		Reason string `json:"reason"`
	} `json:"failures"`
}

// counts is the run's counts in one line: "fetched 12: 10 new, 0
// changed, 2 unchanged, 0 removed, 1 failed".
func (r sourceRun) counts() string {
	s := fmt.Sprintf("fetched %d: %d new, %d changed, %d unchanged, %d removed, %d failed",
		r.Fetched, r.New, r.Changed, r.Unchanged, r.Removed, r.Failed)
	if r.Truncated {
		s += " (stopped at max pages)"
	}
	return s
}

// schedules are the values of --schedule, "" being none (synced only
// when asked).
var schedules = []string{"hourly", "daily", "weekly"}

func (e *env) sources() *cobra.Command {
	cmd := resource[source]{
		Name: "sources", Short: "websites, sitemaps and URLs kept as documents (changes need sources:write)", Path: "/v1/sources",
		Header: "ID\tTYPE\tSCHEDULE\tPAGES\tLAST RUN\tURL",
		Row: func(s source) string {
			schedule, last := "-", "never"
			if s.Schedule != nil {
				schedule = *s.Schedule
			}
			if s.LastRun != nil {
				r := s.LastRun
				last = r.Status + fmt.Sprintf(" (%d new, %d changed, %d removed, %d failed)", r.New, r.Changed, r.Removed, r.Failed)
			}
			if s.Status != "active" {
				last = s.Status
			}
			return strings.Join([]string{s.ID, s.Type, schedule, fmt.Sprint(s.Pages), last, s.URL}, "\t")
		},
		Verbs: []verb{
			show("source (its settings and last run)"),
			{
				Name: "rm", Args: "ID", Method: "DELETE",
				Short: "delete a source AND its documents (--keep-documents keeps them, as uploads)",
				Flags: []option{{Name: "keep-documents", Bool: true, Usage: "delete only the source: its documents stay, and are no longer synced"}},
				Query: func(flag func(string) string) url.Values {
					if flag("keep-documents") == "true" {
						return url.Values{"keep_documents": {"true"}}
					}
					return nil
				},
				Done: func(id string, answer json.RawMessage) (string, error) {
					if len(answer) == 0 { // 204: kept
						return "deleted source " + id + "; its documents stay (they are no longer synced)", nil
					}
					return "deleting source " + id + " and its documents (in the background; --keep-documents would have kept them)", nil
				},
			},
		},
	}.command(e)
	cmd.AddCommand(e.sourcesAdd(), e.sourcesSync(), e.sourcesRuns())
	return cmd
}

// sourcesAdd creates a source, which starts its first run at once.
func (e *env) sourcesAdd() *cobra.Command {
	var (
		typ, schedule          string
		include, exclude, tags []string
		maxPages, maxDepth     int
		wait                   bool
	)
	cmd := &cobra.Command{
		Use:   "add URL",
		Short: "add a website, sitemap or URL: its first run starts at once (--wait follows it)",
		Long: `Add a website (a start page and the pages its links reach on the same
site), a sitemap (the pages it lists; gzipped and sitemap indexes too) or
one URL (a page, or a file such as a PDF). Each page becomes a document,
its URL the document's external id. Pages rendered only by JavaScript
are out of reach. A loopback or private address is refused unless ragd
runs with RAGD_SOURCES_ALLOW_PRIVATE=true (for development).`,
		Args: exactArgs(1),
		RunE: e.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			body := map[string]any{"type": typ, "url": args[0], "include": nonNil(include), "exclude": nonNil(exclude), "tags": nonNil(tags)}
			if maxPages != 0 {
				body["max_pages"] = maxPages
			}
			if cmd.Flags().Changed("max-depth") {
				body["max_depth"] = maxDepth
			}
			if schedule != "" && schedule != "none" {
				body["schedule"] = schedule
			}
			var answer json.RawMessage
			if err := e.c.do(ctx, "POST", "/v1/sources", body, &answer); err != nil {
				return err
			}
			var created struct {
				source
				Run sourceRun `json:"run"`
			}
			if err := json.Unmarshal(answer, &created); err != nil {
				return fmt.Errorf("unreadable answer from the server: %w", err)
			}
			if !wait {
				if e.json {
					return e.printRaw(answer)
				}
				fmt.Fprintf(e.out, "source %s (%s %s); its first run %s started: follow it with ragctl sources runs %s\n",
					created.ID, created.Type, created.URL, created.Run.ID, created.ID)
				return nil
			}
			fmt.Fprintf(e.errOut, "source %s (%s %s): waiting for its first run %s\n", created.ID, created.Type, created.URL, created.Run.ID)
			return e.followRun(ctx, created.ID, created.Run.ID)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&typ, "type", "website", "website (follow links), sitemap (the pages a sitemap lists) or url (one page or file)")
	f.StringArrayVar(&include, "include", nil, "crawl only URL paths matching this pattern (/docs/*); repeat for more")
	f.StringArrayVar(&exclude, "exclude", nil, "skip URL paths matching this pattern (/blog/*); repeat for more")
	f.IntVar(&maxPages, "max-pages", 0, "at most this many pages a run (default: the server's, 500)")
	f.IntVar(&maxDepth, "max-depth", 0, "follow links at most this deep from the start page (default: the server's, 5)")
	f.StringVar(&schedule, "schedule", "", "sync again hourly, daily or weekly (default: only when asked, with sync)")
	f.StringArrayVar(&tags, "tag", nil, "a tag for every document of the source; repeat for more")
	f.BoolVar(&wait, "wait", false, "follow the first run to its end and print its counts and failures")
	completeValues(cmd, option{Name: "type", Values: []string{"website", "sitemap", "url"}})
	completeValues(cmd, option{Name: "schedule", Values: schedules})
	return cmd
}

// nonNil sends an unset list as [], not null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// onSource is a command on one source (sync ID, runs ID) with a boolean
// flag.
func (e *env) onSource(use, short, flag, usage string, fn func(ctx context.Context, id string, on bool) error) *cobra.Command {
	var on bool
	cmd := &cobra.Command{
		Use: use + " ID", Short: short, Args: exactArgs(1),
		ValidArgsFunction: e.completeIDs("/v1/sources"),
		RunE: e.action(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return fn(ctx, args[0], on)
		}),
	}
	cmd.Flags().BoolVar(&on, flag, false, usage)
	return cmd
}

// sourcesSync starts a run now.
func (e *env) sourcesSync() *cobra.Command {
	return e.onSource("sync", "crawl a source again now (--wait follows the run); only changed pages are processed again",
		"wait", "follow the run to its end and print its counts and failures",
		func(ctx context.Context, id string, wait bool) error {
			var answer json.RawMessage
			if err := e.c.do(ctx, "POST", "/v1/sources/"+url.PathEscape(id)+"/sync", nil, &answer); err != nil {
				var ex *exitError
				if errors.As(err, &ex) && strings.HasPrefix(ex.msg, "409 ") {
					ex.msg += "\n(ragctl sources runs " + id + " shows it)"
				}
				return err
			}
			var run sourceRun
			if err := json.Unmarshal(answer, &run); err != nil {
				return fmt.Errorf("unreadable answer from the server: %w", err)
			}
			if !wait {
				if e.json {
					return e.printRaw(answer)
				}
				fmt.Fprintf(e.out, "run %s started: follow it with ragctl sources runs %s\n", run.ID, id)
				return nil
			}
			fmt.Fprintf(e.errOut, "waiting for run %s\n", run.ID)
			return e.followRun(ctx, id, run.ID)
		})
}

// sourcesRuns lists a source's runs, newest first.
func (e *env) sourcesRuns() *cobra.Command {
	return e.onSource("runs", "a source's runs, newest first, with their counts (--failures: each failed URL and why)",
		"failures", "after the table, each run's failed URLs and why",
		func(ctx context.Context, id string, failures bool) error {
			list, err := listAll[json.RawMessage](ctx, e.c, "/v1/sources/"+url.PathEscape(id)+"/runs", url.Values{})
			if err != nil {
				return err
			}
			var runs []sourceRun
			err = printList(e, list, "ID\tTRIGGER\tSTARTED\tENDED\tSTATUS\tFETCHED\tNEW\tCHANGED\tUNCHANGED\tREMOVED\tFAILED", func(r sourceRun) string {
				runs = append(runs, r)
				ended := "-"
				if r.EndedAt != nil {
					ended = r.EndedAt.UTC().Format(time.RFC3339)
				}
				status := r.Status
				if r.Truncated {
					status += " (max pages)"
				}
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d", r.ID, r.Trigger, r.StartedAt.UTC().Format(time.RFC3339), ended,
					status, r.Fetched, r.New, r.Changed, r.Unchanged, r.Removed, r.Failed)
			})
			if err != nil || !failures || e.json {
				return err
			}
			for _, r := range runs {
				if len(r.Failures) > 0 || r.Error != nil {
					fmt.Fprintf(e.out, "\nrun %s:\n", r.ID)
					printFailures(e.out, r)
				}
			}
			return nil
		})
}

// followRun polls a source's run until it ends, showing its counts as
// they grow on a terminal, then prints its counts and failures. A run
// that failed exits 1; one that completed exits 0, even with pages that
// failed (a site's broken links are the site's).
func (e *env) followRun(ctx context.Context, sourceID, runID string) error {
	path := "/v1/sources/" + url.PathEscape(sourceID) + "/runs?limit=20"
	var last string
	for {
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := e.c.do(ctx, "GET", path, nil, &page); err != nil {
			return err
		}
		var run *sourceRun
		var raw json.RawMessage
		for _, d := range page.Data {
			var r sourceRun
			if err := json.Unmarshal(d, &r); err != nil {
				return fmt.Errorf("unreadable answer from the server: %w", err)
			}
			if r.ID == runID {
				run, raw = &r, d
				break
			}
		}
		if run == nil {
			return &exitError{exitFailed, fmt.Sprintf("run %s of source %s is not among its 20 newest runs", runID, sourceID)}
		}
		if run.Status != "running" {
			if e.terminal && last != "" {
				fmt.Fprint(e.errOut, "\r\033[K")
			}
			if e.json {
				if err := e.printRaw(raw); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(e.out, "run %s %s: %s\n", run.ID, run.Status, run.counts())
				printFailures(e.out, *run)
				if run.Status == "completed" && run.New+run.Changed > 0 {
					fmt.Fprintln(e.out, "new and changed pages are processed as documents now: ragctl docs ls --status processing")
				}
			}
			if run.Status != "completed" {
				return &exitError{exitFailed, fmt.Sprintf("run %s %s", run.ID, run.Status)}
			}
			return nil
		}
		if now := run.counts(); now != last && e.terminal {
			fmt.Fprintf(e.errOut, "\r\033[K%s", now)
			last = now
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return &exitError{exitFailed, "interrupted (the run goes on: ragctl sources runs " + sourceID + ")"}
		case <-t.C:
		}
	}
}

// printFailures prints why a run failed, and each URL that failed and
// why, one a line.
func printFailures(w io.Writer, r sourceRun) {
	if r.Error != nil {
		fmt.Fprintf(w, "  the run failed: %s\n", *r.Error)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  %s: %s\n", f.URL, f.Reason)
	}
	if len(r.Failures) < r.Failed {
		fmt.Fprintf(w, "  (and %d more)\n", r.Failed-len(r.Failures))
	}
}
