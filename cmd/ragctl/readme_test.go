package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/api/apitest"
)

// docFiles are the files whose sh blocks TestREADMECommands runs, in this
// order (later ones use what the README's "Try it" made: $ADMIN, $TENANT,
// $KEY), from the repository's root.
var docFiles = []string{"README.md", "docs/api.md", "docs/operations.md", "docs/console.md", "docs/configuration.md"}

// TestREADMECommands runs every ragctl and curl command of the sh blocks of
// README.md and the docs (docFiles), in order, as printed, against a real
// server: an example that stops working fails here. The commands see:
//   - localhost:8080 rewritten to the test server, and RAGD_URL set to it
//     (ragctl's default is that same localhost:8080);
//   - ADMIN, the admin token (the README has the reader paste it);
//   - the variables that earlier commands set (TENANT=$(curl ...),
//     export RAGD_API_KEY=$KEY), kept between commands as a shell would;
//   - ragctl built from this package on PATH, and curl made to fail on an
//     HTTP error (--fail-with-body);
//   - in the working directory, as in a clone: the repository's examples/
//     (the documents the commands upload), agent.yaml (the README's own,
//     from its yaml block) and patch.json.
//
// Before each command the test waits until no document is queued or
// processing, as a person reading the last answer would; that keeps what
// a command sees (chunks, search results) the same from run to run.
//
// Each command must exit 0, or the N of a trailing "# ... exits N"
// comment, and print what its kind prints: JSON that parses (a stream of
// it, or Server-Sent Events of it), non-empty jq results, search hits,
// an upload with nothing failed; a variable it sets must not be empty or
// "null".
func TestREADMECommands(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"go", "bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's commands need %s (scripts/test-deps.sh installs it)", tool)
		}
	}
	rm := readme{Files: map[string]string{}}
	for _, name := range docFiles {
		text, err := os.ReadFile(filepath.Join("../..", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := rm.parse(name, string(text)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []struct{ file, section string }{{"README.md", "Try it"}, {"docs/api.md", "Quotas"}, {"docs/operations.md", "Operations"}} {
		if !slices.ContainsFunc(rm.Commands, func(c readmeCommand) bool { return c.File == want.file && c.Section == want.section }) {
			t.Fatalf("no command found in %s, section %q: the extraction is broken", want.file, want.section)
		}
	}
	for _, s := range rm.Skipped {
		t.Logf("not run: %s", s)
	}

	// The binary a user builds: this test binary, which links the whole
	// server, takes seconds to start under the race detector.
	work, bin := t.TempDir(), t.TempDir()
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", filepath.Join(bin, "ragctl"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := apitest.Start(t, apitest.Options{})
	writeREADMEFiles(t, work, rm.Files)
	state := filepath.Join(t.TempDir(), "state.sh")
	if err := os.WriteFile(state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	env := []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + work,
		"LANG=C.UTF-8",
		"RAGD_URL=" + srv.URL,
		"ADMIN=" + apitest.AdminToken,
		"README_STATE=" + state,
	}

	start := time.Now()
	for _, c := range rm.Commands {
		settle(t, srv)
		script := readmeScript(strings.ReplaceAll(c.Text, "localhost:8080", host), c.Sets)
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		cmd := exec.CommandContext(ctx, "bash", "-c", script)
		cmd.Dir, cmd.Env = work, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		began := time.Now()
		err := cmd.Run()
		cancel()
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", c.Where(), err)
		}
		if code != c.Exit {
			t.Fatalf("%s: exit %d, want %d\n%s\nstdout:\n%s\nstderr:\n%s", c.Where(), code, c.Exit, c.Text, stdout.String(), stderr.String())
		}
		if err := c.checkOutput(stdout.String()); err != nil {
			t.Fatalf("%s: %v\n%s\nstdout:\n%s\nstderr:\n%s", c.Where(), err, c.Text, stdout.String(), stderr.String())
		}
		t.Logf("%s ok in %v: %.100q", c.Where(), time.Since(began).Round(time.Millisecond), stdout.String())
	}
	t.Logf("%d commands in %v", len(rm.Commands), time.Since(start).Round(time.Millisecond))
}

// readmeScript wraps one command: the variables of the commands before it,
// curl that fails on HTTP errors, and the variables it sets saved (and
// checked) for the commands after it. set -a exports every assignment, so
// that export -p saves a plain DOC=$(...) too.
func readmeScript(command string, sets []string) string {
	var b strings.Builder
	b.WriteString("set -euo pipefail\nset -a\nsource \"$README_STATE\"\n")
	b.WriteString("curl() { command curl --fail-with-body --show-error \"$@\"; }\n")
	// The README's curl -fsS fails on an HTTP error as the wrapper does;
	// curl refuses --fail twice, and the wrapper's also prints the body.
	b.WriteString(curlFail.ReplaceAllString(command, "curl -$1") + "\n")
	for _, v := range sets {
		fmt.Fprintf(&b, "if [[ -z \"${%[1]s:-}\" || \"${%[1]s}\" == null ]]; then echo '%[1]s was set to nothing' >&2; exit 97; fi\n", v)
	}
	b.WriteString("export -p > \"$README_STATE\"\n")
	return b.String()
}

// settle waits until no document is queued or processing.
func settle(t *testing.T, srv *apitest.Server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := srv.Pool.QueryRow(t.Context(), `SELECT count(*) FROM documents WHERE status IN ('queued', 'processing')`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d documents still queued or processing after 30 s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeREADMEFiles puts in dir what the README's commands name, as a
// reader who cloned the repository has it: the repository's examples/
// folder (the documents "Try it" and ragctl upload send, copied byte for
// byte: a command that names a file the repository does not ship fails
// here), patch.json (as the README's comment gives it), and the files the
// README prints itself (agent.yaml).
func writeREADMEFiles(t *testing.T, dir string, fromREADME map[string]string) {
	t.Helper()
	files := map[string][]byte{"patch.json": []byte(`{"temperature": 0.5}`)}
	examples, err := os.ReadDir("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range examples {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("../../examples", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files["examples/"+e.Name()] = b
	}
	for name, body := range fromREADME {
		files[name] = []byte(body)
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readme is what the test takes from the README and the docs.
type readme struct {
	Commands []readmeCommand
	// Skipped are the lines of sh blocks that are not run: make, comments,
	// values the reader fills in (ADMIN=...).
	Skipped []string
	// Files are the blocks that start with a "# NAME" comment naming a
	// file (agent.yaml).
	Files map[string]string
}

// readmeCommand is one command of an sh block.
type readmeCommand struct {
	File    string // the file it is in (README.md, docs/api.md)
	Section string // the ## heading it is under
	Line    int    // its first line in File
	Text    string // as bash reads it, continuation lines included
	Kind    string // "ragctl", "curl", or "assign" (NAME=$(...), export NAME=$X)
	Words   []string
	Sets    []string // the variables it sets for the commands after it
	Exit    int      // 0, or N from a trailing comment "... exits N"
	Stages  []string // its top-level pipeline
}

var (
	fence       = regexp.MustCompile("^(\\s*)```\\s*([A-Za-z]*)\\s*$")
	fileHeader  = regexp.MustCompile(`^#\s+([\w.-]+\.(?:yaml|yml|json))\s*$`)
	assignment  = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=`)
	exitsN      = regexp.MustCompile(`\bexits (\d+)\b`)
	includeHead = regexp.MustCompile(`^-[a-zA-Z]*i[a-zA-Z]*$`) // curl -i, -si
	curlFail    = regexp.MustCompile(`\bcurl -f([a-zA-Z]+)`)   // curl -fsS
	uploadDone  = regexp.MustCompile(`^[1-9]\d* ready, 0 failed\n`)
)

// Where is the command's file and line.
func (c readmeCommand) Where() string { return fmt.Sprintf("%s:%d", c.File, c.Line) }

// parseREADME collects the commands of the sh blocks and the files that
// README.md prints.
func parseREADME(text string) (readme, error) {
	rm := readme{Files: map[string]string{}}
	return rm, rm.parse("README.md", text)
}

// parse adds the commands of the sh blocks and the files that the
// document file, named name, prints.
func (rm *readme) parse(name, text string) error {
	lines := strings.Split(text, "\n")
	section := ""
	for i := 0; i < len(lines); i++ {
		if h, ok := strings.CutPrefix(lines[i], "## "); ok {
			section = strings.TrimSpace(h)
			continue
		}
		m := fence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, lang, open := m[1], m[2], i
		var block []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			block = append(block, strings.TrimPrefix(lines[i], indent))
		}
		if i == len(lines) {
			return fmt.Errorf("%s:%d: the block never ends", name, open+1)
		}
		if len(block) > 0 {
			if f := fileHeader.FindStringSubmatch(block[0]); f != nil {
				rm.Files[f[1]] = strings.Join(block[1:], "\n") + "\n"
				continue
			}
		}
		if lang != "sh" {
			continue
		}
		if err := rm.addBlock(name, section, open+2, block); err != nil {
			return err
		}
	}
	return nil
}

// addBlock joins the block's lines into commands (a line continues while
// it ends in a backslash or leaves a quote or $( open) and keeps those to
// run.
func (rm *readme) addBlock(file, section string, firstLine int, block []string) error {
	for i := 0; i < len(block); i++ {
		start, text := i, block[i]
		sc := scanShell(text)
		for !sc.complete && i+1 < len(block) {
			i++
			text += "\n" + block[i]
			sc = scanShell(text)
		}
		if !sc.complete {
			return fmt.Errorf("%s:%d: the command never ends: %s", file, firstLine+start, text)
		}
		c := readmeCommand{File: file, Section: section, Line: firstLine + start, Text: text, Words: sc.words, Stages: sc.stages}
		if m := exitsN.FindStringSubmatch(sc.comment); m != nil {
			c.Exit, _ = strconv.Atoi(m[1])
		}
		if !c.classify() {
			if strings.TrimSpace(text) != "" && !strings.HasPrefix(strings.TrimSpace(text), "#") {
				rm.Skipped = append(rm.Skipped, fmt.Sprintf("%s: %s", c.Where(), text))
			}
			continue
		}
		rm.Commands = append(rm.Commands, c)
	}
	return nil
}

// classify says whether the command is one to run, and what kind.
func (c *readmeCommand) classify() bool {
	w := c.Words
	exported := len(w) > 0 && w[0] == "export"
	if exported {
		w = w[1:]
	}
	var sets []string
	usesVariable := false
	for len(w) > 0 {
		m := assignment.FindStringSubmatch(w[0])
		if m == nil {
			break
		}
		sets = append(sets, m[1])
		usesVariable = usesVariable || strings.Contains(w[0], "$")
		w = w[1:]
	}
	switch {
	case len(w) == 0 && len(sets) > 0:
		// A value the reader fills in (ADMIN=...) is the test's to give;
		// one made from another command or variable is run.
		if !usesVariable {
			return false
		}
		c.Kind, c.Sets = "assign", sets
		return true
	case exported || len(w) == 0:
		return false
	case w[0] == "ragctl" || w[0] == "curl":
		// NAME=value before a command sets it for that command only.
		c.Kind, c.Words = w[0], w
		return true
	}
	return false
}

// checkOutput checks that the command printed what its kind prints.
func (c *readmeCommand) checkOutput(out string) error {
	if c.Exit != 0 || c.Kind == "assign" {
		return nil
	}
	last := strings.TrimSpace(c.Stages[len(c.Stages)-1])
	if len(c.Stages) > 1 && strings.HasPrefix(last, "jq ") {
		if slices.Contains(strings.Fields(last), "-r") {
			lines := strings.Fields(out)
			if len(lines) == 0 || slices.Contains(lines, "null") {
				return fmt.Errorf("jq -r printed nothing, or null")
			}
			return nil
		}
		return jsonStream(out)
	}
	switch c.Kind {
	case "curl":
		if slices.ContainsFunc(c.Words, includeHead.MatchString) {
			head, body, ok := strings.Cut(out, "\r\n\r\n")
			if !ok || !strings.HasPrefix(head, "HTTP/") {
				return fmt.Errorf("no HTTP head (curl -i)")
			}
			return jsonStream(body)
		}
		if strings.HasPrefix(out, "event: ") {
			return serverSentEvents(out)
		}
		return jsonStream(out)
	case "ragctl":
		sub := ""
		for _, w := range c.Words[1:] {
			if !strings.HasPrefix(w, "-") {
				sub = w
				break
			}
		}
		switch {
		case slices.Contains(c.Words, "--json"):
			return jsonStream(out)
		case sub == "search" && !strings.HasPrefix(out, "1. ["):
			return fmt.Errorf("search found nothing")
		case sub == "upload" && !uploadDone.MatchString(out):
			return fmt.Errorf("upload did not end with every file ready")
		case strings.TrimSpace(out) == "":
			return fmt.Errorf("printed nothing")
		}
	}
	return nil
}

// jsonStream checks that out is one or more JSON values, none null.
func jsonStream(out string) error {
	dec := json.NewDecoder(strings.NewReader(out))
	n := 0
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("not JSON: %v", err)
		}
		if v == nil {
			return fmt.Errorf("null")
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("no JSON printed")
	}
	return nil
}

// serverSentEvents checks that every event's data is JSON.
func serverSentEvents(out string) error {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if !json.Valid([]byte(data)) {
				return fmt.Errorf("event data is not JSON: %s", data)
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no events")
	}
	return nil
}

// shell is what scanShell finds in a command.
type shell struct {
	complete bool     // nothing left open: no quote, no $(, no trailing backslash
	words    []string // top-level words, quotes removed ($(...) kept as written)
	stages   []string // the top-level pipeline's stages
	comment  string   // the trailing comment
}

// scanShell reads a command as far as the README test needs: quotes,
// backslashes, $( ), comments, pipes. No here-documents, no ${...} nesting.
func scanShell(s string) shell {
	const (
		top = iota
		subst
		double
		single
	)
	var (
		sh         shell
		stack      = []int{top}
		word       strings.Builder
		inWord     bool
		stageStart int
	)
	endWord := func() {
		if inWord {
			sh.words = append(sh.words, word.String())
		}
		word.Reset()
		inWord = false
	}
	for i := 0; i < len(s); i++ {
		ch, state := s[i], stack[len(stack)-1]
		atTop := len(stack) == 1
		switch state {
		case single:
			if ch == '\'' {
				stack = stack[:len(stack)-1]
				if len(stack) == 1 {
					continue
				}
			}
		case double:
			switch {
			case ch == '\\' && i+1 < len(s):
				word.WriteByte(ch)
				i++
				ch = s[i]
			case ch == '"':
				stack = stack[:len(stack)-1]
				if len(stack) == 1 {
					continue
				}
			case ch == '$' && i+1 < len(s) && s[i+1] == '(':
				stack = append(stack, subst)
				word.WriteByte(ch)
				i++
				ch = s[i]
			}
		default: // top or subst
			switch {
			case ch == '\\' && i+1 < len(s) && s[i+1] == '\n':
				i++
				if atTop {
					endWord()
				}
				continue
			case ch == '\\' && i+1 < len(s):
				if !atTop {
					word.WriteByte(ch)
				}
				i++
				ch = s[i]
			case ch == '#' && !inWord && atTop:
				end := strings.IndexByte(s[i:], '\n')
				if end < 0 {
					end = len(s) - i
				}
				sh.comment = strings.TrimSpace(s[i+1 : i+end])
				i += end - 1
				continue
			case ch == '\'':
				stack = append(stack, single)
				if atTop {
					inWord = true
					continue
				}
			case ch == '"':
				stack = append(stack, double)
				if atTop {
					inWord = true
					continue
				}
			case ch == '$' && i+1 < len(s) && s[i+1] == '(':
				stack = append(stack, subst)
				word.WriteString("$")
				inWord = true
				i++
				ch = s[i]
			case ch == '(' && state == subst:
				stack = append(stack, subst)
			case ch == ')' && state == subst:
				stack = stack[:len(stack)-1]
			case atTop && ch == '|' && (i+1 >= len(s) || s[i+1] != '|') && (i == 0 || s[i-1] != '|'):
				endWord()
				sh.stages = append(sh.stages, s[stageStart:i])
				stageStart = i + 1
				continue
			case atTop && (ch == ' ' || ch == '\t' || ch == '\n'):
				endWord()
				continue
			}
		}
		word.WriteByte(ch)
		inWord = true
	}
	endWord()
	sh.stages = append(sh.stages, s[stageStart:])
	sh.complete = len(stack) == 1 && !strings.HasSuffix(s, "\\")
	return sh
}

func TestREADMEExtraction(t *testing.T) {
	t.Parallel()
	const md = "# x\n\n## Try it\n\n" +
		"```sh\n" +
		"make run   # not run\n" +
		"ADMIN=...  # the reader's\n" +
		"TENANT=$(curl -s localhost:8080/v1/tenants -H \"Authorization: Bearer $ADMIN\" \\\n" +
		"  -d '{\"name\": \"a | b\"}' | jq -r .id)\n" +
		"curl -s localhost:8080/v1/agents -d '{\n" +
		"  \"id\": \"x # not a comment\"}'   # a comment | not a pipe\n" +
		"curl -si localhost:8080/v1/agents/x | jq .id\n" +
		"```\n\n" +
		"## Operations\n\n" +
		"- list:\n\n" +
		"  ```sh\n" +
		"  export RAGD_API_KEY=$KEY RAGD_TENANT=$TENANT\n" +
		"  RAGD_API_KEY=$ADMIN ragctl tenants ls   # exits 4 here\n" +
		"  ragctl keys revoke $(ragctl keys ls --json | jq -r '.[] | .id')\n" +
		"  ```\n\n" +
		"  ```yaml\n" +
		"  # agent.yaml\n" +
		"  id: a\n" +
		"  ```\n\n" +
		"```\nragd serve\n```\n"
	rm, err := parseREADME(md)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		section, kind string
		line, exit    int
		sets          []string
		stages        int
	}
	wants := []want{
		{"Try it", "assign", 8, 0, []string{"TENANT"}, 1},
		{"Try it", "curl", 10, 0, nil, 1},
		{"Try it", "curl", 12, 0, nil, 2},
		{"Operations", "assign", 20, 0, []string{"RAGD_API_KEY", "RAGD_TENANT"}, 1},
		{"Operations", "ragctl", 21, 4, nil, 1},
		{"Operations", "ragctl", 22, 0, nil, 1},
	}
	if len(rm.Commands) != len(wants) {
		for _, c := range rm.Commands {
			t.Logf("%d %s %q", c.Line, c.Kind, c.Text)
		}
		t.Fatalf("%d commands, want %d", len(rm.Commands), len(wants))
	}
	for i, w := range wants {
		c := rm.Commands[i]
		got := want{c.Section, c.Kind, c.Line, c.Exit, c.Sets, len(c.Stages)}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("command %d: got %+v, want %+v\n%s", i, got, w, c.Text)
		}
	}
	if c := rm.Commands[1]; !strings.Contains(c.Text, "\n  \"id\": \"x # not a comment\"}'") || c.Words[len(c.Words)-1] != "{\n  \"id\": \"x # not a comment\"}" {
		t.Errorf("a quote over two lines: %q %q", c.Text, c.Words)
	}
	if c := rm.Commands[4]; c.Words[0] != "ragctl" {
		t.Errorf("a prefix assignment stays with its command: %q", c.Words)
	}
	if len(rm.Skipped) != 2 {
		t.Errorf("skipped: %q", rm.Skipped)
	}
	if rm.Files["agent.yaml"] != "id: a\n" {
		t.Errorf("files: %q", rm.Files)
	}

	for _, tc := range []struct {
		out  string
		ok   bool
		text string
	}{
		{`{"a": 1}` + "\n" + `{"b": 2}`, true, "curl -s x"},
		{"null\n", false, "curl -s x | jq .quotas"},
		{"", false, "curl -s x | jq '.data[]'"},
		{"abc\nnull\n", false, "curl -s x | jq -r .id"},
		{"HTTP/1.1 200 OK\r\nETag: \"v1\"\r\n\r\n{}", true, "curl -si x"},
		{"event: document\ndata: {\"id\": \"1\"}\n\n", true, "curl -sN x"},
		{"event: document\ndata: {\"id\": \n\n", false, "curl -sN x"},
		{"no results\n", false, "ragctl search a --top-k 5"},
		{"2 ready, 1 failed\n", false, "ragctl upload examples"},
		{"[]\n", true, "ragctl docs ls --json"},
		{"", false, "ragctl keys ls"},
	} {
		sc := scanShell(tc.text)
		c := readmeCommand{Text: tc.text, Words: sc.words, Stages: sc.stages}
		c.classify()
		if err := c.checkOutput(tc.out); (err == nil) != tc.ok {
			t.Errorf("%s printing %q: %v", tc.text, tc.out, err)
		}
	}
}
