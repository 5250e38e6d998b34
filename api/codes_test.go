package api

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestErrorCodesAreDocumented fails when the error codes clients match on
// and their documentation part: a problem code (a code* constant of
// problem.go) or a document failure code (a Code* constant of
// extract/errors.go or ingest/errors.go) added, removed or renamed without
// the tables of docs/api.md and openapi.json following, or the other way
// round; a code written as a literal instead of a constant; a constant
// nothing uses; and a documented status that is not the one the code
// answers with.
func TestErrorCodesAreDocumented(t *testing.T) {
	t.Parallel()
	api := parseDir(t, ".")
	ingest, extract, sandbox := parseDir(t, "../ingest"), parseDir(t, "../extract"), parseDir(t, "../extract/sandbox")
	problemCodes := constants(t, api, "problem.go", "code")
	docCodes := constants(t, extract, "errors.go", "Code")
	maps.Copy(docCodes, constants(t, ingest, "errors.go", "Code"))
	readme, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("CodesAreWrittenOnlyAsConstants", func(t *testing.T) {
		t.Parallel()
		for _, pkg := range []map[string]*ast.File{api, ingest, extract, sandbox} {
			for name, f := range pkg {
				ast.Inspect(f, func(n ast.Node) bool {
					var v ast.Expr
					switch n := n.(type) {
					case *ast.KeyValueExpr:
						if k, ok := n.Key.(*ast.Ident); ok && strings.EqualFold(k.Name, "code") {
							v = n.Value
						}
					case *ast.CallExpr:
						if fn, ok := n.Fun.(*ast.Ident); ok && fn.Name == "errorf" && len(n.Args) == 3 {
							v = n.Args[1]
						} else if ok && fn.Name == "fail" && len(n.Args) >= 1 {
							v = n.Args[0]
						}
					}
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						t.Errorf("%s: the code %s is written as a literal; declare it beside the other codes", name, lit.Value)
					}
					return true
				})
			}
		}
		for name, value := range problemCodes {
			if uses(api, name) == 0 {
				t.Errorf("problem code %s (%q) is declared but never written: remove it, or use it where it belongs", name, value)
			}
		}
	})

	t.Run("Documented", func(t *testing.T) {
		t.Parallel()
		statuses := codeStatuses(t, api, problemCodes)
		documented := readmeTable(t, string(readme), "| problem `code` |")
		compareSets(t, "docs/api.md's problem codes", keys(documented), values(problemCodes))
		for code, cells := range documented {
			if want := statuses[code]; len(want) > 0 && cells[0] != strings.Join(want, ", ") {
				t.Errorf("docs/api.md: %s is answered with status %s, not %s", code, strings.Join(want, ", "), cells[0])
			}
		}
		compareSets(t, "docs/api.md's document failure codes",
			keys(readmeTable(t, string(readme), "| document `error.code` |")), values(docCodes))
	})

	t.Run("OpenAPI", func(t *testing.T) {
		t.Parallel()
		var doc struct {
			Components struct {
				Schemas struct {
					Problem struct {
						Properties struct {
							Code struct{ Enum []string }
						}
					}
					Document struct {
						Properties struct {
							Error struct {
								OneOf []struct {
									Properties struct {
										Code struct{ Enum []string }
									}
								}
							}
						}
					}
				}
			}
		}
		if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
			t.Fatal(err)
		}
		compareSets(t, "openapi.json's Problem code enum", doc.Components.Schemas.Problem.Properties.Code.Enum, values(problemCodes))
		var docEnum []string
		for _, alt := range doc.Components.Schemas.Document.Properties.Error.OneOf {
			docEnum = append(docEnum, alt.Properties.Code.Enum...)
		}
		compareSets(t, "openapi.json's Document error code enum", docEnum, values(docCodes))
	})
}

// parseDir parses a package's non-test files, by file name.
func parseDir(t *testing.T, dir string) map[string]*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*ast.File{}
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(name)] = f
	}
	return files
}

// constants maps the names of file's string constants that start with
// prefix and an upper-case letter to their values.
func constants(t *testing.T, pkg map[string]*ast.File, file, prefix string) map[string]string {
	t.Helper()
	f, ok := pkg[file]
	if !ok {
		t.Fatalf("no %s", file)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				rest, ok := strings.CutPrefix(n.Name, prefix)
				if !ok || rest == "" || rest[0] < 'A' || rest[0] > 'Z' || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					out[n.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s* constants in %s", prefix, file)
	}
	return out
}

// uses counts the references to name outside its declaration.
func uses(pkg map[string]*ast.File, name string) int {
	n := 0
	for _, f := range pkg {
		ast.Inspect(f, func(node ast.Node) bool {
			if vs, ok := node.(*ast.ValueSpec); ok {
				for _, v := range vs.Values {
					ast.Inspect(v, func(node ast.Node) bool {
						if id, ok := node.(*ast.Ident); ok && id.Name == name {
							n++
						}
						return true
					})
				}
				return false
			}
			if id, ok := node.(*ast.Ident); ok && id.Name == name {
				n++
			}
			return true
		})
	}
	return n
}

// codeStatuses maps each problem code to the statuses it is written with:
// errorf(status, code, ...), httpError{status, code} and problem{Status,
// Code}, where status is an http.Status* constant.
func codeStatuses(t *testing.T, pkg map[string]*ast.File, codes map[string]string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	add := func(status, code ast.Expr) {
		id, ok := code.(*ast.Ident)
		if !ok || codes[id.Name] == "" {
			return
		}
		sel, ok := status.(*ast.SelectorExpr)
		if !ok {
			return
		}
		s := strconv.Itoa(statusByName(t, sel.Sel.Name))
		if v := codes[id.Name]; !slices.Contains(out[v], s) {
			out[v] = append(out[v], s)
			slices.Sort(out[v])
		}
	}
	for _, f := range pkg {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if fn, ok := n.Fun.(*ast.Ident); ok && fn.Name == "errorf" && len(n.Args) == 3 {
					add(n.Args[0], n.Args[1])
				}
			case *ast.CompositeLit:
				var status, code ast.Expr
				for _, e := range n.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok {
						switch k, _ := kv.Key.(*ast.Ident); {
						case k == nil:
						case strings.EqualFold(k.Name, "status"):
							status = kv.Value
						case strings.EqualFold(k.Name, "code"):
							code = kv.Value
						}
					}
				}
				if status != nil && code != nil {
					add(status, code)
				}
			}
			return true
		})
	}
	return out
}

// statusByName turns the name of an http.Status* constant into its value,
// through the status text it stands for.
func statusByName(t *testing.T, name string) int {
	t.Helper()
	for code := 100; code < 600; code++ {
		text := strings.NewReplacer(" ", "", "-", "", "'", "").Replace(http.StatusText(code))
		if text != "" && "Status"+text == name {
			return code
		}
	}
	t.Fatalf("no HTTP status is named %s", name)
	return 0
}

// readmeTable reads the Markdown table whose header starts with header:
// each row's first cell (a code in backticks) to its other cells.
func readmeTable(t *testing.T, readme, header string) map[string][]string {
	t.Helper()
	lines := strings.Split(readme, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), header) })
	if start < 0 {
		t.Fatalf("docs/api.md has no table headed %q", header)
	}
	out := map[string][]string{}
	for _, l := range lines[start+2:] {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "|") {
			break
		}
		var cells []string
		for c := range strings.SplitSeq(strings.Trim(l, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		code := strings.Trim(cells[0], "`")
		if _, dup := out[code]; dup {
			t.Errorf("docs/api.md: %s is listed twice", code)
		}
		out[code] = cells[1:]
	}
	return out
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// compareSets reports what got lacks of want and has beyond it.
func compareSets(t *testing.T, what string, got, want []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s: %s is missing, and the code declares it", what, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("%s: %s is listed, and the code does not declare it", what, g)
		}
	}
}
