package agents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/secret"
)

// Agent is a chatbot configuration, fetched by the chat runtime by its
// public id. Its secrets print redacted everywhere (see secret.String).
type Agent struct {
	// ID is unique within the tenant: two tenants may each have a
	// "support-bot", and each sees only its own.
	ID       string    `json:"id"`
	TenantID uuid.UUID `json:"tenant_id"`
	AgentSpec
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// SecretsUnreadable: the agent's stored secrets open with none of the
	// server's keys (RAGD_ENCRYPTION_KEY changed without its predecessor
	// in RAGD_ENCRYPTION_KEY_PREVIOUS). The agent reads with its secrets
	// empty; an update keeps the stored ones untouched, or must give
	// every one of them again (a ragd.ConflictError otherwise).
	SecretsUnreadable bool `json:"secrets_unreadable,omitempty"`
}

// AgentSpec is an agent's whole configuration.
type AgentSpec struct {
	Name         string          `json:"name"`
	Model        string          `json:"model"`
	SystemPrompt string          `json:"system_prompt"`
	Temperature  *float64        `json:"temperature"`
	OutputSchema json.RawMessage `json:"output_schema"`
	MCPServers   []MCPServer     `json:"mcp_servers"`
	Langfuse     *Langfuse       `json:"langfuse"`
	Retrieval    Retrieval       `json:"retrieval"`
}

// MCPServer is a Model Context Protocol server the agent may call.
// AllowedTools empty means every tool the server offers.
type MCPServer struct {
	Name         string                   `json:"name"`
	URL          string                   `json:"url"`
	Transport    string                   `json:"transport"`
	Headers      map[string]secret.String `json:"headers"`
	AllowedTools []string                 `json:"allowed_tools"`
}

// Langfuse holds the agent's tracing settings.
type Langfuse struct {
	PublicKey  string        `json:"public_key"`
	SecretKey  secret.String `json:"secret_key"`
	Host       string        `json:"host"`
	PromptName string        `json:"prompt_name"`
	Label      string        `json:"label"`
}

// Retrieval holds the agent's defaults for searching its tenant's documents.
type Retrieval struct {
	Enabled bool `json:"enabled"`
	TopK    int  `json:"top_k"`
	// ScoreThreshold is the relevance a hit needs (see package search;
	// nil: the server's default for the mode, 0: every hit).
	ScoreThreshold *float64 `json:"score_threshold"`
	Mode           string   `json:"mode"`
	Tags           []string `json:"tags"`
	// Fusion and Weights combine the arms of a hybrid search ("" and nil:
	// the server's default for its embedder; see package search).
	Fusion  string   `json:"fusion"`
	Weights *Weights `json:"weights"`
}

// Weights are the dense and sparse arms' weights in a hybrid fusion.
type Weights struct {
	Dense  float64 `json:"dense"`
	Sparse float64 `json:"sparse"`
}

// Fusions an agent may name, and the bound of a weight.
var Fusions = []string{"rrf", "dbsf", "convex", "calibrated"}

const MaxWeight = 100

// Transports and retrieval modes.
const (
	TransportStreamableHTTP = "streamable_http"
	TransportSSE            = "sse"

	ModeHybrid = "hybrid"
	ModeDense  = "dense"
	ModeSparse = "sparse"

	DefaultLangfuseHost = "https://cloud.langfuse.com"
)

// Limits on agent fields.
const (
	MaxSystemPromptBytes = 100 << 10
	MaxOutputSchemaBytes = 256 << 10
	MaxMCPServers        = 16
	MaxHeaders           = 32
	MaxHeaderValueBytes  = 8 << 10
	MaxAllowedTools      = 256
	MaxTags              = 32
	MaxTopK              = 100
)

// DefaultRetrieval is what an agent created without retrieval settings gets.
func DefaultRetrieval() Retrieval {
	return Retrieval{Enabled: true, TopK: 8, Mode: ModeHybrid, Tags: []string{}}
}

// AgentPatch creates (applied to an empty agent with DefaultRetrieval) or
// changes an agent, as a JSON merge patch:
//   - absent fields stay, null clears optional ones;
//   - langfuse and retrieval merge field by field; a langfuse secret_key
//     left out keeps the stored one;
//   - mcp_servers replaces the list; a header whose value is null keeps the
//     value stored for the same header of the server with the same name, so
//     clients can send back what they read without knowing the secrets.
type AgentPatch struct {
	ID           ragd.Optional[string]          `json:"id"`
	Name         ragd.Optional[string]          `json:"name"`
	Model        ragd.Optional[string]          `json:"model"`
	SystemPrompt ragd.Optional[string]          `json:"system_prompt"`
	Temperature  ragd.Optional[float64]         `json:"temperature"`
	OutputSchema ragd.Optional[json.RawMessage] `json:"output_schema"`
	MCPServers   ragd.Optional[[]MCPServerIn]   `json:"mcp_servers"`
	Langfuse     ragd.Optional[LangfusePatch]   `json:"langfuse"`
	Retrieval    ragd.Optional[RetrievalPatch]  `json:"retrieval"`
}

// MCPServerIn is an MCP server as a client sends it.
type MCPServerIn struct {
	Name         string                    `json:"name"`
	URL          string                    `json:"url"`
	Transport    string                    `json:"transport"`
	Headers      map[string]*secret.String `json:"headers"`
	AllowedTools []string                  `json:"allowed_tools"`
}

// LangfusePatch changes Langfuse settings field by field.
type LangfusePatch struct {
	PublicKey  ragd.Optional[string]        `json:"public_key"`
	SecretKey  ragd.Optional[secret.String] `json:"secret_key"`
	Host       ragd.Optional[string]        `json:"host"`
	PromptName ragd.Optional[string]        `json:"prompt_name"`
	Label      ragd.Optional[string]        `json:"label"`
}

// RetrievalPatch changes retrieval settings field by field.
type RetrievalPatch struct {
	Enabled        ragd.Optional[bool]     `json:"enabled"`
	TopK           ragd.Optional[int]      `json:"top_k"`
	ScoreThreshold ragd.Optional[float64]  `json:"score_threshold"`
	Mode           ragd.Optional[string]   `json:"mode"`
	Tags           ragd.Optional[[]string] `json:"tags"`
	Fusion         ragd.Optional[string]   `json:"fusion"`
	Weights        ragd.Optional[Weights]  `json:"weights"`
}

var (
	agentIDRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$`)
	mcpNameRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	toolNameRE   = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,128}$`)
	headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
)

// apply returns spec changed by p, validated. It never modifies spec.
func (p AgentPatch) apply(spec AgentSpec) (AgentSpec, error) {
	var probs ragd.Problems
	if p.ID.Null {
		probs.Add("id", "cannot be null")
	} else if p.ID.Set && !agentIDRE.MatchString(p.ID.Value) {
		probs.Add("id", "must be 3 to 64 lowercase letters, digits and inner hyphens")
	}
	setString(&spec.Name, p.Name, &probs, "name", true)
	spec.Name = strings.TrimSpace(spec.Name)
	checkName(&probs, "name", spec.Name)

	setString(&spec.Model, p.Model, &probs, "model", true)
	switch {
	case spec.Model == "":
		probs.Add("model", "is required")
	case len(spec.Model) > 200 || strings.ContainsFunc(spec.Model, isControl) || strings.TrimSpace(spec.Model) != spec.Model:
		probs.Add("model", "must be at most 200 characters, without control characters or surrounding spaces")
	}

	setString(&spec.SystemPrompt, p.SystemPrompt, &probs, "system_prompt", false)
	if len(spec.SystemPrompt) > MaxSystemPromptBytes {
		probs.Add("system_prompt", "must be at most %d bytes", MaxSystemPromptBytes)
	} else if strings.ContainsRune(spec.SystemPrompt, 0) {
		probs.Add("system_prompt", "must not contain NUL (U+0000)")
	}

	if p.Temperature.Null {
		spec.Temperature = nil
	} else if p.Temperature.Set {
		t := p.Temperature.Value
		spec.Temperature = &t
		if math.IsNaN(t) || t < 0 || t > 2 {
			probs.Add("temperature", "must be between 0 and 2")
		}
	}

	if p.OutputSchema.Null {
		spec.OutputSchema = nil
	} else if p.OutputSchema.Set {
		spec.OutputSchema = p.OutputSchema.Value
		if err := CheckOutputSchema(spec.OutputSchema); err != nil {
			probs.Add("output_schema", "%s", err)
		}
	}

	if p.MCPServers.Null {
		spec.MCPServers = []MCPServer{}
	} else if p.MCPServers.Set {
		spec.MCPServers = applyMCPServers(spec.MCPServers, p.MCPServers.Value, &probs)
	}
	if spec.MCPServers == nil {
		spec.MCPServers = []MCPServer{}
	}

	if p.Langfuse.Null {
		spec.Langfuse = nil
	} else if p.Langfuse.Set {
		spec.Langfuse = applyLangfuse(spec.Langfuse, p.Langfuse.Value, &probs)
	}

	if p.Retrieval.Null {
		spec.Retrieval = DefaultRetrieval()
	} else if p.Retrieval.Set {
		spec.Retrieval = applyRetrieval(spec.Retrieval, p.Retrieval.Value, &probs)
	}
	return spec, probs.Err()
}

func setString(dst *string, o ragd.Optional[string], probs *ragd.Problems, field string, required bool) {
	switch {
	case o.Null && required:
		probs.Add(field, "cannot be null")
	case o.Null:
		*dst = ""
	case o.Set:
		*dst = o.Value
	}
}

func applyMCPServers(old []MCPServer, in []MCPServerIn, probs *ragd.Problems) []MCPServer {
	if len(in) > MaxMCPServers {
		probs.Add("mcp_servers", "at most %d servers", MaxMCPServers)
		return nil
	}
	stored := map[string]MCPServer{}
	for _, s := range old {
		stored[s.Name] = s
	}
	out := make([]MCPServer, 0, len(in))
	seen := map[string]bool{}
	for i, s := range in {
		f := fmt.Sprintf("mcp_servers[%d]", i)
		if !mcpNameRE.MatchString(s.Name) {
			probs.Add(f+".name", "must be 1 to 64 letters, digits, '_' or '-'")
		} else if seen[s.Name] {
			probs.Add(f+".name", "duplicates another server's name")
		}
		seen[s.Name] = true

		if err := checkHTTPURL(s.URL); err != nil {
			probs.Add(f+".url", "%s", err)
		}
		switch s.Transport {
		case "":
			s.Transport = TransportStreamableHTTP
		case TransportStreamableHTTP, TransportSSE:
		default:
			probs.Add(f+".transport", "must be %q or %q", TransportStreamableHTTP, TransportSSE)
		}

		headers := make(map[string]secret.String, len(s.Headers))
		if len(s.Headers) > MaxHeaders {
			probs.Add(f+".headers", "at most %d headers", MaxHeaders)
		}
		for name, v := range s.Headers {
			hf := f + ".headers." + name
			if !headerNameRE.MatchString(name) {
				probs.Add(f+".headers", "%q is not a valid header name", name)
				continue
			}
			if v == nil {
				prev, ok := stored[s.Name].Headers[name]
				if !ok {
					probs.Add(hf, "null keeps a stored value, but there is none for this server and header")
					continue
				}
				headers[name] = prev
				continue
			}
			val := v.Reveal()
			switch {
			case val == "":
				probs.Add(hf, "must not be empty")
			case len(val) > MaxHeaderValueBytes:
				probs.Add(hf, "must be at most %d bytes", MaxHeaderValueBytes)
			case strings.ContainsAny(val, "\r\n\x00"):
				probs.Add(hf, "must not contain line breaks or NUL")
			}
			headers[name] = *v
		}

		tools := s.AllowedTools
		if tools == nil {
			tools = []string{}
		}
		if len(tools) > MaxAllowedTools {
			probs.Add(f+".allowed_tools", "at most %d tools", MaxAllowedTools)
		}
		for j, tool := range tools {
			if !toolNameRE.MatchString(tool) {
				probs.Add(fmt.Sprintf("%s.allowed_tools[%d]", f, j), "must be 1 to 128 letters, digits or _.:/-")
			}
		}
		out = append(out, MCPServer{Name: s.Name, URL: s.URL, Transport: s.Transport, Headers: headers, AllowedTools: tools})
	}
	return out
}

func applyLangfuse(old *Langfuse, p LangfusePatch, probs *ragd.Problems) *Langfuse {
	lf := Langfuse{Host: DefaultLangfuseHost}
	if old != nil {
		lf = *old
	}
	if p.PublicKey.Set {
		lf.PublicKey = p.PublicKey.Value
	}
	if p.SecretKey.Set {
		lf.SecretKey = p.SecretKey.Value
	}
	if p.Host.Null {
		lf.Host = DefaultLangfuseHost
	} else if p.Host.Set {
		lf.Host = p.Host.Value
	}
	if p.PromptName.Set {
		lf.PromptName = p.PromptName.Value
	}
	if p.Label.Set {
		lf.Label = p.Label.Value
	}
	if lf.PublicKey == "" || len(lf.PublicKey) > 256 || strings.ContainsFunc(lf.PublicKey, isControl) {
		probs.Add("langfuse.public_key", "is required (at most 256 characters)")
	}
	// A kept secret_key was checked when it was stored; it is empty only
	// when no key of the server opens the stored secrets, and the update
	// then keeps them sealed as they are (updateAgent).
	if s := lf.SecretKey.Reveal(); (p.SecretKey.Set || old == nil) && (s == "" || len(s) > 256 || strings.ContainsFunc(s, isControl)) {
		probs.Add("langfuse.secret_key", "is required (at most 256 characters)")
	}
	if err := checkHTTPURL(lf.Host); err != nil {
		probs.Add("langfuse.host", "%s", err)
	}
	if utf8.RuneCountInString(lf.PromptName) > 200 || strings.ContainsFunc(lf.PromptName, isControl) {
		probs.Add("langfuse.prompt_name", "must be at most 200 characters")
	}
	if utf8.RuneCountInString(lf.Label) > 100 || strings.ContainsFunc(lf.Label, isControl) {
		probs.Add("langfuse.label", "must be at most 100 characters")
	}
	return &lf
}

func applyRetrieval(r Retrieval, p RetrievalPatch, probs *ragd.Problems) Retrieval {
	if p.Enabled.Set {
		r.Enabled = p.Enabled.Value
	}
	if p.TopK.Set {
		r.TopK = p.TopK.Value
	}
	if p.ScoreThreshold.Null {
		r.ScoreThreshold = nil
	} else if p.ScoreThreshold.Set {
		t := p.ScoreThreshold.Value
		r.ScoreThreshold = &t
	}
	if p.Mode.Set {
		r.Mode = p.Mode.Value
	}
	if p.Tags.Set {
		r.Tags = p.Tags.Value
	}
	if p.Fusion.Set {
		r.Fusion = p.Fusion.Value // null: ""
	}
	if p.Weights.Null {
		r.Weights = nil
	} else if p.Weights.Set {
		w := p.Weights.Value
		r.Weights = &w
	}
	if r.Fusion != "" && !slices.Contains(Fusions, r.Fusion) {
		probs.Add("retrieval.fusion", "must be rrf, dbsf, convex or calibrated (or null for the server's default)")
	}
	if w := r.Weights; w != nil && (!(w.Dense >= 0 && w.Sparse >= 0 && w.Dense <= MaxWeight && w.Sparse <= MaxWeight) || w.Dense+w.Sparse == 0) {
		probs.Add("retrieval.weights", "dense and sparse must be between 0 and %d, not both 0 (or null for the server's default)", MaxWeight)
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	if r.TopK < 1 || r.TopK > MaxTopK {
		probs.Add("retrieval.top_k", "must be between 1 and %d", MaxTopK)
	}
	if t := r.ScoreThreshold; t != nil && !(*t >= 0 && *t <= 1) {
		probs.Add("retrieval.score_threshold", "must be a number between 0 and 1 (or null for the server's default)")
	}
	if !slices.Contains([]string{ModeHybrid, ModeDense, ModeSparse}, r.Mode) {
		probs.Add("retrieval.mode", "must be %q, %q or %q", ModeHybrid, ModeDense, ModeSparse)
	}
	if len(r.Tags) > MaxTags {
		probs.Add("retrieval.tags", "at most %d tags", MaxTags)
	}
	for i, tag := range r.Tags {
		if tag == "" || utf8.RuneCountInString(tag) > 64 || strings.ContainsFunc(tag, isControl) {
			probs.Add(fmt.Sprintf("retrieval.tags[%d]", i), "must be 1 to 64 characters")
		}
	}
	return r
}

func checkHTTPURL(raw string) error {
	if raw == "" {
		return errors.New("is required")
	}
	if len(raw) > 2048 {
		return errors.New("must be at most 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http or https URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials; put them in headers")
	}
	return nil
}

// draft2020 is the only JSON Schema dialect output schemas may declare.
const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// CheckOutputSchema reports whether raw is a JSON Schema (draft 2020-12)
// object that compiles. References to anything outside the document are
// refused: compiling a tenant's schema must never read a file or the network.
func CheckOutputSchema(raw json.RawMessage) error {
	if len(raw) > MaxOutputSchemaBytes {
		return fmt.Errorf("must be at most %d bytes", MaxOutputSchemaBytes)
	}
	if !isJSONObject(raw) {
		return errors.New("must be a JSON Schema object")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return errors.New("must be valid JSON")
	}
	if hasNUL(doc) { // Postgres's text and jsonb cannot hold it
		return errors.New("must not contain NUL (U+0000)")
	}
	if d, ok := doc.(map[string]any)["$schema"]; ok && d != draft2020 && d != draft2020+"#" {
		return fmt.Errorf("must use JSON Schema draft 2020-12 (%q)", draft2020)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	const loc = "urn:ragd:output_schema"
	if err := c.AddResource(loc, doc); err != nil {
		return fmt.Errorf("does not compile: %v", err)
	}
	if _, err := c.Compile(loc); err != nil {
		var lerr *jsonschema.LoadURLError
		if errors.As(err, &lerr) {
			return errors.New("must not reference other documents ($ref to a URL or file)")
		}
		return fmt.Errorf("does not compile: %s", schemaProblem(err))
	}
	return nil
}

// schemaProblem says in one line what is wrong with a schema: for a schema
// that breaks the metaschema, the first, deepest cause and where it is.
func schemaProblem(err error) string {
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if errors.As(err, &sve) && errors.As(sve.Err, &ve) {
		for len(ve.Causes) > 0 {
			ve = ve.Causes[0]
		}
		return fmt.Sprintf("at /%s: %s", strings.Join(ve.InstanceLocation, "/"),
			ve.ErrorKind.LocalizedString(message.NewPrinter(language.English)))
	}
	return firstLine(err.Error())
}

// hasNUL reports whether a decoded JSON value has U+0000 in a string or key.
func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case []any:
		return slices.ContainsFunc(v, hasNUL)
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) || hasNUL(e) {
				return true
			}
		}
	}
	return false
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, errors.New("external references are not allowed")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// secretsGiven counts the spec's secret values that are set (given) and
// empty (kept from an agent whose secrets no key opened: a value given
// in a request is never empty, validation refuses it).
func (sp AgentSpec) secretsGiven() (given, kept int) {
	count := func(v secret.String) {
		if v == "" {
			kept++
		} else {
			given++
		}
	}
	for _, m := range sp.MCPServers {
		for _, v := range m.Headers {
			count(v)
		}
	}
	if sp.Langfuse != nil {
		count(sp.Langfuse.SecretKey)
	}
	return given, kept
}
