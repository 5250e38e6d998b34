// Package evals runs a tenant's retrieval evaluations: judged queries
// (POST /v1/evaluations) scored over retrieval configurations (modes,
// fusions, weights) by an evaluate job, with the same search every other
// route uses (search.Searcher), so that the scores say what the tenant's
// chatbot will get. The scoring itself is search.Evaluate.
package evals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/search"
)

// Limits of an evaluation.
const (
	MaxQueries  = 1000
	MaxRelevant = 100
	MaxConfigs  = 24
	MaxGrade    = 3
	DefaultK    = 10
)

// Statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Relevant names a relevant document by its id or its external id, with a
// grade (default 1).
type Relevant struct {
	DocumentID *uuid.UUID `json:"document_id,omitempty"`
	ExternalID string     `json:"external_id,omitempty"`
	Grade      *int       `json:"grade,omitempty"`
}

// Filter is a query's filter, as the search route takes it.
type Filter struct {
	DocumentIDs []uuid.UUID    `json:"document_ids,omitempty"`
	TagsAny     []string       `json:"tags_any,omitempty"`
	TagsAll     []string       `json:"tags_all,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
}

// Query is one judged query. An empty Relevant list (given, not absent)
// marks a query the tenant's documents do not answer: answered right only
// with nothing.
type Query struct {
	Query    string     `json:"query"`
	Relevant []Relevant `json:"relevant"`
	Filter   *Filter    `json:"filter,omitempty"`
}

// Config is a configuration to compare: a mode and, for hybrid, a fusion
// and weights (absent: the server's defaults).
type Config struct {
	Mode    search.Mode     `json:"mode"`
	Fusion  search.Fusion   `json:"fusion,omitempty"`
	Weights *search.Weights `json:"weights,omitempty"`
	// ScoreThreshold is the relevance hits need (absent: the server's
	// default for the mode).
	ScoreThreshold *float64 `json:"score_threshold,omitempty"`
}

// Input is the body of POST /v1/evaluations.
type Input struct {
	Queries []Query  `json:"queries"`
	Configs []Config `json:"configs"`
	// K is the depth of recall@k (default 10, at most search.MaxTopK).
	K int `json:"k"`
	// PerQuery asks for each query's scores besides the means.
	PerQuery bool `json:"per_query"`
	// AgentID evaluates for an agent: its tags filter the queries that
	// have no tags of their own, and its current configuration is one of
	// those compared.
	AgentID string `json:"agent_id,omitempty"`
}

// Spec is an evaluation as it runs: resolved to document ids.
type Spec struct {
	Judgments []judgment      `json:"judgments"`
	Configs   []search.Config `json:"configs"`
	K         int             `json:"k"`
	PerQuery  bool            `json:"per_query"`
	AgentID   string          `json:"agent_id,omitempty"`
	// AgentConfig is the index in Configs of the agent's configuration.
	AgentConfig *int `json:"agent_config,omitempty"`
}

type judgment struct {
	Query    string            `json:"query"`
	Relevant map[uuid.UUID]int `json:"relevant"`
	Filter   search.Filter     `json:"filter"`
}

// Result is one configuration's scores (see search.ConfigScores): the
// means over the answerable queries, the share of unanswerable ones
// answered with nothing, and, when there are unanswerable queries, the
// threshold that would have served all of them best.
type Result struct {
	Name     string          `json:"name"`
	Config   search.Config   `json:"config"`
	Agent    bool            `json:"agent,omitempty"`
	Mean     search.Scores   `json:"mean"`
	NoAnswer *float64        `json:"no_answer"`
	Fit      *search.Fit     `json:"fitted_threshold,omitempty"`
	PerQuery []search.Scores `json:"per_query,omitempty"`
}

// Evaluation is what GET /v1/evaluations/{id} returns.
type Evaluation struct {
	ID              uuid.UUID  `json:"id"`
	Status          string     `json:"status"`
	Progress        float64    `json:"progress"`
	Queries         int        `json:"queries"`
	Unanswerable    int        `json:"unanswerable_queries"`
	K               int        `json:"k"`
	AgentID         string     `json:"agent_id,omitempty"`
	Results         []Result   `json:"results"`
	Best            *Result    `json:"best"`
	Error           *string    `json:"error"`
	EmbeddingTokens int64      `json:"embedding_tokens"`
	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       *time.Time `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
}

// Jobs adds the evaluate job in the caller's transaction (the jobs package
// implements it).
type Jobs interface {
	EnqueueEvaluation(ctx context.Context, tx pgx.Tx, tenantID, id uuid.UUID) error
}

// Resolver finds the tenant's documents by id and external id
// (ingest.Documents is one).
type Resolver interface {
	Resolve(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID, externalIDs []string) (map[uuid.UUID]bool, map[string][]uuid.UUID, error)
}

// EventCompleted is the event an evaluation's end (succeeded or failed)
// is recorded as, for webhooks.
const EventCompleted = "evaluation.completed"

// Events records what happened to an evaluation in the transaction that
// made it happen (the webhooks package implements it).
type Events interface {
	Record(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, typ string, subjectID uuid.UUID, data any) error
}

// Completed is the data of an evaluation.completed event: the evaluation
// without its results (GET it for them), with its best configuration.
type Completed struct {
	ID              uuid.UUID  `json:"id"`
	TenantID        uuid.UUID  `json:"tenant_id"`
	Status          string     `json:"status"`
	Queries         int        `json:"queries"`
	K               int        `json:"k"`
	AgentID         string     `json:"agent_id,omitempty"`
	Best            *Result    `json:"best"`
	Error           *string    `json:"error"`
	EmbeddingTokens int64      `json:"embedding_tokens"`
	CreatedAt       time.Time  `json:"created_at"`
	FinishedAt      *time.Time `json:"finished_at"`
}

// Evaluations keeps evaluations and runs them.
type Evaluations struct {
	pool     *pgxpool.Pool
	docs     Resolver
	agents   *agents.ControlPlane
	searcher *search.Searcher
	events   Events
	jobs     Jobs
}

// NewEvaluations returns Evaluations. searcher runs the searches (nil in a
// process that only creates and reads evaluations); events, when not nil,
// records each evaluation's end in the transaction that stores it; jobs
// enqueues the evaluate job of each evaluation created.
func NewEvaluations(pool *pgxpool.Pool, docs Resolver, ag *agents.ControlPlane, searcher *search.Searcher, events Events, jobs Jobs) *Evaluations {
	return &Evaluations{pool: pool, docs: docs, agents: ag, searcher: searcher, events: events, jobs: jobs}
}

// Create validates in, resolves its documents and agent, and stores the
// evaluation with its job in one transaction.
func (s *Evaluations) Create(ctx context.Context, tenantID uuid.UUID, in Input, defaults search.Fusing, th search.Thresholds) (Evaluation, error) {
	spec, err := s.resolve(ctx, tenantID, in, defaults, th)
	if err != nil {
		return Evaluation{}, err
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return Evaluation{}, err
	}
	id := uuid.Must(uuid.NewV7())
	var out Evaluation
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ev, err := scan(tx.QueryRow(ctx, `INSERT INTO evaluations (id, tenant_id, spec) VALUES ($1, $2, $3) RETURNING `+columns, id, tenantID, raw))
		if err != nil {
			return fmt.Errorf("create evaluation: %w", err)
		}
		out = ev
		return s.jobs.EnqueueEvaluation(ctx, tx, tenantID, id)
	})
	return out, err
}

// resolve checks in and turns it into a Spec.
func (s *Evaluations) resolve(ctx context.Context, tenantID uuid.UUID, in Input, defaults search.Fusing, th search.Thresholds) (Spec, error) {
	var probs ragd.Problems
	switch {
	case len(in.Queries) == 0:
		probs.Add("queries", "at least one judged query is required")
	case len(in.Queries) > MaxQueries:
		probs.Add("queries", "at most %d queries an evaluation (this one has %d): split them into several evaluations", MaxQueries, len(in.Queries))
	}
	if len(in.Configs) > MaxConfigs {
		probs.Add("configs", "at most %d configurations", MaxConfigs)
	}
	if in.K == 0 {
		in.K = DefaultK
	}
	if in.K < 1 || in.K > search.MaxTopK {
		probs.Add("k", "must be between 1 and %d", search.MaxTopK)
	}
	if err := probs.Err(); err != nil {
		return Spec{}, err
	}

	spec := Spec{K: in.K, PerQuery: in.PerQuery, AgentID: in.AgentID}
	var agentTags []string
	var agentConfig *search.Config
	if in.AgentID != "" {
		a, err := s.agents.GetAgent(ctx, tenantID, in.AgentID)
		if errors.Is(err, ragd.ErrNotFound) {
			probs.Add("agent_id", "no such agent")
			return Spec{}, probs.Err()
		}
		if err != nil {
			return Spec{}, err
		}
		agentTags = a.Retrieval.Tags
		c := search.Config{Mode: search.Mode(a.Retrieval.Mode), Threshold: th.For(search.Mode(a.Retrieval.Mode))}
		if t := a.Retrieval.ScoreThreshold; t != nil {
			c.Threshold = *t
		}
		if c.Mode == search.ModeHybrid {
			f := defaults
			if a.Retrieval.Fusion != "" {
				f.Fusion = search.Fusion(a.Retrieval.Fusion)
			}
			if w := a.Retrieval.Weights; w != nil {
				f.Weights = search.Weights{Dense: w.Dense, Sparse: w.Sparse}
			}
			c.Fusion, c.Wts = f.Fusion, f.Weights
		}
		agentConfig = &c
	}

	// Configurations: as asked, or the standard set and the default.
	if len(in.Configs) == 0 {
		spec.Configs = search.StandardConfigs(th)
		if def := (search.Config{Mode: search.ModeHybrid, Fusion: defaults.Fusion, Wts: defaults.Weights, Threshold: th.Hybrid}); !slices.Contains(spec.Configs, def) {
			spec.Configs = append(spec.Configs, def)
		}
	}
	for i, c := range in.Configs {
		field := fmt.Sprintf("configs[%d]", i)
		sc := search.Config{Mode: c.Mode, Threshold: th.For(c.Mode)}
		if t := c.ScoreThreshold; t != nil {
			if !(*t >= 0 && *t <= 1) {
				probs.Add(field+".score_threshold", "must be between 0 and 1")
			}
			sc.Threshold = *t
		}
		switch c.Mode {
		case search.ModeDense, search.ModeSparse:
			if c.Fusion != "" || c.Weights != nil {
				probs.Add(field, "fusion and weights apply to hybrid only")
			}
		case search.ModeHybrid:
			f := defaults
			if c.Fusion != "" {
				f.Fusion = c.Fusion
			}
			if c.Weights != nil {
				f.Weights = *c.Weights
			}
			if err := f.Validate(); err != nil {
				probs.Add(field, "%v", err)
			}
			sc.Fusion, sc.Wts = f.Fusion, f.Weights
		default:
			probs.Add(field+".mode", "must be hybrid, dense or sparse")
		}
		spec.Configs = append(spec.Configs, sc)
	}
	if agentConfig != nil {
		if i := slices.Index(spec.Configs, *agentConfig); i >= 0 {
			spec.AgentConfig = &i
		} else {
			spec.Configs = append(spec.Configs, *agentConfig)
			i := len(spec.Configs) - 1
			spec.AgentConfig = &i
		}
	}
	// Repeats would run twice for nothing.
	for i, c := range spec.Configs {
		if slices.Index(spec.Configs, c) != i {
			probs.Add(fmt.Sprintf("configs[%d]", i), "is given twice")
		}
	}

	// Queries, and the documents they name.
	var ids []uuid.UUID
	var exts []string
	for i, q := range in.Queries {
		field := fmt.Sprintf("queries[%d]", i)
		r := search.Request{Query: q.Query, TopK: search.EvalDepth, Mode: search.ModeSparse, Filter: q.Filter.search()}
		if err := r.Validate(); err != nil {
			var ve *ragd.ValidationError
			if errors.As(err, &ve) {
				for k, v := range ve.Fields {
					probs.Add(field+"."+k, "%s", v)
				}
			}
		}
		switch {
		case q.Relevant == nil:
			probs.Add(field+".relevant", "is required: the documents that answer the query, or [] for a query they do not answer")
		case len(q.Relevant) > MaxRelevant:
			probs.Add(field+".relevant", "at most %d documents", MaxRelevant)
		}
		for j, rel := range q.Relevant {
			rf := fmt.Sprintf("%s.relevant[%d]", field, j)
			switch {
			case (rel.DocumentID == nil) == (rel.ExternalID == ""):
				probs.Add(rf, "give a document_id or an external_id")
			case rel.DocumentID != nil:
				ids = append(ids, *rel.DocumentID)
			default:
				if utf8.RuneCountInString(rel.ExternalID) > 256 {
					probs.Add(rf+".external_id", "must be at most 256 characters")
				}
				exts = append(exts, rel.ExternalID)
			}
			if rel.Grade != nil && (*rel.Grade < 1 || *rel.Grade > MaxGrade) {
				probs.Add(rf+".grade", "must be between 1 and %d", MaxGrade)
			}
		}
	}
	if err := probs.Err(); err != nil {
		return Spec{}, err
	}
	found, byExt, err := s.docs.Resolve(ctx, tenantID, ids, exts)
	if err != nil {
		return Spec{}, err
	}
	for i, q := range in.Queries {
		j := judgment{Query: q.Query, Relevant: map[uuid.UUID]int{}, Filter: q.Filter.search()}
		if len(j.Filter.TagsAny) == 0 && len(j.Filter.TagsAll) == 0 && len(agentTags) > 0 {
			j.Filter.TagsAny = agentTags
		}
		for k, rel := range q.Relevant {
			grade := 1
			if rel.Grade != nil {
				grade = *rel.Grade
			}
			rf := fmt.Sprintf("queries[%d].relevant[%d]", i, k)
			if rel.DocumentID != nil {
				if !found[*rel.DocumentID] {
					probs.Add(rf+".document_id", "no such document")
				}
				j.Relevant[*rel.DocumentID] = max(j.Relevant[*rel.DocumentID], grade)
				continue
			}
			docs := byExt[rel.ExternalID]
			if len(docs) == 0 {
				probs.Add(rf+".external_id", "no document has this external_id")
			}
			for _, id := range docs {
				j.Relevant[id] = max(j.Relevant[id], grade)
			}
		}
		spec.Judgments = append(spec.Judgments, j)
	}
	if err := probs.Err(); err != nil {
		return Spec{}, err
	}
	return spec, nil
}

func (f *Filter) search() search.Filter {
	if f == nil {
		return search.Filter{}
	}
	return search.Filter{DocumentIDs: f.DocumentIDs, TagsAny: f.TagsAny, TagsAll: f.TagsAll, Metadata: f.Metadata}
}

const columns = `id, status, progress, spec, results, error_message, embedding_tokens, created_at, started_at, finished_at`

func scan(row pgx.Row) (Evaluation, error) {
	var e Evaluation
	var spec, results []byte
	var progress float32
	if err := row.Scan(&e.ID, &e.Status, &progress, &spec, &results, &e.Error, &e.EmbeddingTokens, &e.CreatedAt, &e.StartedAt, &e.FinishedAt); err != nil {
		return e, err
	}
	e.Progress = float64(progress)
	var sp Spec
	if err := json.Unmarshal(spec, &sp); err != nil {
		return e, fmt.Errorf("evaluation %s spec: %w", e.ID, err)
	}
	e.Queries, e.K, e.AgentID = len(sp.Judgments), sp.K, sp.AgentID
	for _, j := range sp.Judgments {
		if !(search.Judgment{Relevant: j.Relevant}).Answerable() {
			e.Unanswerable++
		}
	}
	e.Results = []Result{}
	if results != nil {
		if err := json.Unmarshal(results, &e.Results); err != nil {
			return e, fmt.Errorf("evaluation %s results: %w", e.ID, err)
		}
		if best, ok := bestOf(e.Results); ok {
			e.Best = &best
		}
	}
	return e, nil
}

func bestOf(rs []Result) (Result, bool) {
	scores := make([]search.ConfigScores, len(rs))
	for i, r := range rs {
		scores[i] = search.ConfigScores{Config: r.Config, Mean: r.Mean, Fit: r.Fit}
	}
	b, ok := search.Best(scores)
	if !ok {
		return Result{}, false
	}
	i := slices.IndexFunc(rs, func(r Result) bool { return r.Config == b.Config })
	best := rs[i]
	best.PerQuery = nil
	return best, true
}

// Get returns the tenant's evaluation.
func (s *Evaluations) Get(ctx context.Context, tenantID, id uuid.UUID) (Evaluation, error) {
	e, err := scan(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM evaluations WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("evaluation: %w", ragd.ErrNotFound)
	}
	return e, err
}

// Run works the evaluation: it marks it running, scores every
// configuration (telling progress every few queries) and stores the
// results, or the failure. usage records the embedding tokens its query
// embeddings cost; left is what the tenant may still spend this month
// (math.MaxInt64: no quota): once the run has spent it, it stops before
// its next search that embeds a query and fails, saying so, so that an
// evaluation bills at most one query past the quota.
func (s *Evaluations) Run(ctx context.Context, tenantID, id uuid.UUID, left int64, usage func(ctx context.Context, tokens int) error) error {
	if s.searcher == nil {
		return errors.New("evals: this store cannot run evaluations (no searcher)")
	}
	var raw []byte
	err := s.pool.QueryRow(ctx, `UPDATE evaluations SET status = 'running', started_at = coalesce(started_at, now()), progress = 0
		WHERE tenant_id = $1 AND id = $2 AND status IN ('queued', 'running') RETURNING spec`, tenantID, id).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // finished, or gone with its tenant
	}
	if err != nil {
		return fmt.Errorf("start evaluation: %w", err)
	}
	var spec Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return s.fail(ctx, tenantID, id, "the evaluation could not be read")
	}
	judged := make([]search.Judgment, len(spec.Judgments))
	for i, j := range spec.Judgments {
		judged[i] = search.Judgment{Query: j.Query, Relevant: j.Relevant, Filter: j.Filter}
	}
	tokens := 0
	counted := func(ctx context.Context, c search.Config, j search.Judgment) ([]search.Ranked, error) {
		if c.Mode != search.ModeSparse && int64(tokens) >= left {
			return nil, errTokensSpent
		}
		r := c.Request(j, search.EvalDepth)
		if err := r.Validate(); err != nil {
			return nil, err
		}
		res, err := s.searcher.Search(ctx, tenantID, r)
		tokens += res.EmbeddingTokens
		if err != nil {
			return nil, err
		}
		return search.RankedOf(res.Hits), nil
	}
	lastTold := time.Now()
	progress := func(done, total int) {
		if time.Since(lastTold) < time.Second && done != total {
			return
		}
		lastTold = time.Now()
		_, _ = s.pool.Exec(ctx, `UPDATE evaluations SET progress = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, float32(done)/float32(total))
	}
	scores, err := search.Evaluate(ctx, judged, spec.Configs, spec.K, spec.PerQuery, counted, progress)
	if usage != nil && tokens > 0 {
		if uerr := usage(ctx, tokens); uerr != nil && err == nil {
			err = uerr
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return err // cancelled or timed out: River retries
		}
		if errors.Is(err, errTokensSpent) {
			return s.fail(ctx, tenantID, id, fmt.Sprintf("the tenant's embedding tokens for the month ran out after this evaluation spent %d; "+
				"run it again when they reset or the quota is raised, or with sparse configurations only, which embed nothing", tokens))
		}
		return errors.Join(err, s.fail(ctx, tenantID, id, "a search failed: "+trim(err.Error())))
	}
	results := make([]Result, len(scores))
	for i, sc := range scores {
		results[i] = Result{Name: sc.Name, Config: sc.Config, Mean: sc.Mean, NoAnswer: sc.NoAnswer, Fit: sc.Fit, PerQuery: sc.PerQuery,
			Agent: spec.AgentConfig != nil && *spec.AgentConfig == i}
		if results[i].Agent {
			results[i].Name += " (agent)"
		}
	}
	out, err := json.Marshal(results)
	if err != nil {
		return err
	}
	return s.complete(ctx, tenantID, id, `UPDATE evaluations SET status = 'succeeded', progress = 1, results = $3, embedding_tokens = embedding_tokens + $4, finished_at = now()
		WHERE tenant_id = $1 AND id = $2 RETURNING `+columns, out, tokens)
}

// errTokensSpent stops a run whose tenant's monthly tokens are spent.
var errTokensSpent = errors.New("the month's embedding tokens are spent")

func (s *Evaluations) fail(ctx context.Context, tenantID, id uuid.UUID, msg string) error {
	return s.complete(ctx, tenantID, id, `UPDATE evaluations SET status = 'failed', error_message = $3, finished_at = now()
		WHERE tenant_id = $1 AND id = $2 RETURNING `+columns, msg)
}

// complete runs update, which ends the evaluation and returns its columns,
// and records evaluation.completed in the same transaction.
func (s *Evaluations) complete(ctx context.Context, tenantID, id uuid.UUID, update string, args ...any) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := scan(tx.QueryRow(ctx, update, append([]any{tenantID, id}, args...)...))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // gone with its tenant
		}
		if err != nil {
			return fmt.Errorf("complete evaluation: %w", err)
		}
		if s.events == nil {
			return nil
		}
		return s.events.Record(ctx, tx, tenantID, EventCompleted, id, Completed{ID: e.ID, TenantID: tenantID, Status: e.Status,
			Queries: e.Queries, K: e.K, AgentID: e.AgentID, Best: e.Best, Error: e.Error, EmbeddingTokens: e.EmbeddingTokens,
			CreatedAt: e.CreatedAt, FinishedAt: e.FinishedAt})
	})
}

func trim(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "")
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// Apply sets the agent's retrieval mode, fusion and weights to the
// evaluation's best configuration, and its threshold to the one the
// evaluation fitted (when it had unanswerable queries; otherwise the
// threshold stays), and returns the agent.
func (s *Evaluations) Apply(ctx context.Context, tenantID, id uuid.UUID, agentID string) (agents.Agent, search.Config, error) {
	e, err := s.Get(ctx, tenantID, id)
	if err != nil {
		return agents.Agent{}, search.Config{}, err
	}
	if e.Status != StatusSucceeded || e.Best == nil {
		return agents.Agent{}, search.Config{}, &ragd.ValidationError{Fields: map[string]string{"evaluation": "has no results yet (status " + e.Status + ")"}}
	}
	c := e.Best.Config
	p := agents.RetrievalPatch{Mode: ragd.Some(string(c.Mode))}
	if c.Mode == search.ModeHybrid {
		p.Fusion = ragd.Some(string(c.Fusion))
		p.Weights = ragd.Some(agents.Weights{Dense: c.Wts.Dense, Sparse: c.Wts.Sparse})
	}
	if f := e.Best.Fit; f != nil {
		p.ScoreThreshold = ragd.Some(f.Threshold)
		c.Threshold = f.Threshold
	}
	a, err := s.agents.UpdateAgent(ctx, tenantID, agentID, agents.AgentPatch{Retrieval: ragd.Some(p)}, nil)
	return a, c, err
}
