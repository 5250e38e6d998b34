package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// resource is one kind of object the API keeps under a collection path
// (documents, agents, keys, tenants). Every kind gets its commands from
// the same code: ls, which prints a table of T (or, with --json, the
// server's objects as they are), and its verbs. T is the part of an object
// that the table shows.
type resource[T any] struct {
	Name, Short string
	// Path is the collection: /v1/documents. An object is Path/ID.
	Path string
	// Filters are ls flags, sent as query parameters of the same name.
	Filters []option
	// Header and Row make the ls table: tab-separated columns.
	Header string
	Row    func(T) string
	Verbs  []verb
}

// option is a string flag: a filter of ls, or an input of a verb.
type option struct {
	Name, Usage string
	// Values, when known, are offered by shell completion.
	Values []string
	// Bool makes a verb's option a boolean flag (--dry-run), which its
	// Body and Query read as "true" or "false".
	Bool bool
}

// verb is a command on the collection, or on one object when its first
// argument is ID.
type verb struct {
	Name, Short string
	// Args is the usage of the arguments, one word each: "ID", "FILE",
	// "ID FILE". A last word ending in "..." takes one or more.
	Args   string
	Method string
	// Suffix follows the object's path: "/reindex".
	Suffix string
	// Flags are read by Body.
	Flags []option
	// Body builds the request from the arguments after ID and the flags;
	// nil sends none.
	Body func(args []string, flag func(name string) string) (any, error)
	// Query, when not nil, makes the request's query parameters from the
	// flags: ?dry_run=true.
	Query func(flag func(name string) string) url.Values
	// Done says what happened, for people; nil prints the answer as JSON
	// (as --json always does, when there is an answer).
	Done func(id string, answer json.RawMessage) (string, error)
}

// command builds the resource's commands.
func (r resource[T]) command(e *env) *cobra.Command {
	cmd := group(r.Name, r.Short)
	cmd.AddCommand(r.ls(e))
	for _, v := range r.Verbs {
		cmd.AddCommand(r.verb(e, v))
	}
	return cmd
}

func (r resource[T]) ls(e *env) *cobra.Command {
	values := make([]string, len(r.Filters))
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "list " + r.Name,
		Args:  exactArgs(0),
		RunE: e.action(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			q := url.Values{}
			for i, f := range r.Filters {
				if values[i] != "" {
					q.Set(f.Name, values[i])
				}
			}
			list, err := listAll[json.RawMessage](ctx, e.c, r.Path, q)
			if err != nil {
				return err
			}
			return printList(e, list, r.Header, r.Row)
		}),
	}
	for i, f := range r.Filters {
		cmd.Flags().StringVar(&values[i], f.Name, "", f.Usage)
		completeValues(cmd, f)
	}
	return cmd
}

func (r resource[T]) verb(e *env, v verb) *cobra.Command {
	words := strings.Fields(v.Args)
	takesID := len(words) > 0 && words[0] == "ID"
	variadic := len(words) > 0 && strings.HasSuffix(words[len(words)-1], "...")
	nargs := exactArgs(len(words))
	if variadic {
		nargs = minArgs(len(words))
	}
	flags := map[string]func() string{}
	flag := func(name string) string { return flags[name]() }
	cmd := &cobra.Command{
		Use:   strings.TrimSpace(v.Name + " " + v.Args),
		Short: v.Short,
		Args:  nargs,
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			i := len(args)
			if i >= len(words) {
				if !variadic {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				i = len(words) - 1
			}
			switch strings.TrimSuffix(words[i], "...") {
			case "ID":
				return e.completeIDs(r.Path)(cmd, args, toComplete)
			case "FILE":
				return nil, cobra.ShellCompDirectiveDefault
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: e.action(func(ctx context.Context, _ *cobra.Command, args []string) error {
			path, id := r.Path, ""
			if takesID {
				id, args = args[0], args[1:]
				path += "/" + url.PathEscape(id)
			}
			path += v.Suffix
			if v.Query != nil {
				if q := v.Query(flag); len(q) > 0 {
					path += "?" + q.Encode()
				}
			}
			var body any
			if v.Body != nil {
				b, err := v.Body(args, flag)
				if err != nil {
					return err
				}
				body = b
			}
			var answer json.RawMessage
			if err := e.c.do(ctx, v.Method, path, body, &answer); err != nil {
				return err
			}
			if len(answer) > 0 && (e.json || v.Done == nil) {
				return e.printAnswer(answer)
			}
			if v.Done == nil {
				return nil
			}
			text, err := v.Done(id, answer)
			if err != nil {
				return fmt.Errorf("unreadable answer from the server: %w", err)
			}
			fmt.Fprintln(e.out, text)
			return nil
		}),
	}
	for _, f := range v.Flags {
		if f.Bool {
			b := cmd.Flags().Bool(f.Name, false, f.Usage)
			flags[f.Name] = func() string { return strconv.FormatBool(*b) }
			continue
		}
		s := cmd.Flags().String(f.Name, "", f.Usage)
		flags[f.Name] = func() string { return *s }
		completeValues(cmd, f)
	}
	return cmd
}

// printList prints a list's objects: with --json as the server's, else
// as a table of T (header and row: tab-separated columns).
func printList[T any](e *env, list []json.RawMessage, header string, row func(T) string) error {
	if e.json {
		e.printJSON(list)
		return nil
	}
	tw := e.table()
	fmt.Fprintln(tw, header)
	for _, raw := range list {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("unreadable answer from the server: %w", err)
		}
		fmt.Fprintln(tw, row(v))
	}
	return tw.Flush()
}

// completeValues offers an option's known values to shell completion.
func completeValues(cmd *cobra.Command, o option) {
	if len(o.Values) > 0 {
		_ = cmd.RegisterFlagCompletionFunc(o.Name, cobra.FixedCompletions(o.Values, cobra.ShellCompDirectiveNoFileComp))
	}
}

// completeIDs offers the ids of a collection's objects, with their name
// or title, to shell completion.
func (e *env) completeIDs(path string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if e.connect() != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		type object struct{ ID, Name, Title string }
		list, err := listAll[object](cmd.Context(), e.c, path, url.Values{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, o := range list {
			if strings.HasPrefix(o.ID, toComplete) {
				out = append(out, cobra.CompletionWithDesc(o.ID, cmp.Or(o.Name, o.Title)))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// listAll follows next_cursor to the end.
func listAll[T any](ctx context.Context, c *client, path string, q url.Values) ([]T, error) {
	all := []T{}
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
