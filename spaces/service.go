package spaces

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/search"
)

// Jobs enqueues a migration's jobs in the transaction that changes its
// state (the jobs package implements it).
type Jobs interface {
	// EnqueueBuild queues the job that embeds the documents into the
	// target and cuts over.
	EnqueueBuild(ctx context.Context, tx pgx.Tx, m Migration) error
	// EnqueueSettle queues the job that does what the state asks once it
	// changed (removes a space's points, completes an active migration),
	// at at (zero: now).
	EnqueueSettle(ctx context.Context, tx pgx.Tx, m Migration, at time.Time) error
}

// Estimator says what re-embedding a tenant's searchable documents takes
// (ingest.Documents is one): documents, chunks and the tokens of the texts
// that would be embedded.
type Estimator interface {
	EstimateEmbedding(ctx context.Context, tenantID uuid.UUID) (documents, chunks int, tokens int64, err error)
}

// Config is what a Service needs besides its pool.
type Config struct {
	// Tenants is where the tenant's search space is read and switched.
	Tenants *agents.ControlPlane
	// Indexes opens the index of each space.
	Indexes *search.Indexes
	// Documents estimates a migration before it starts.
	Documents Estimator
	// Jobs enqueues the build and settle jobs.
	Jobs Jobs
	// Prices are models' prices in USD per million tokens, for estimates
	// (nil: embedder.ListPrices).
	Prices map[string]float64
	// Offered are the spaces tenants may move to themselves
	// (RAGD_EMBEDDING_MODELS); the admin may choose any the provider
	// serves.
	Offered []search.Space
	Logger  *slog.Logger // default: discard
}

// Service is a tenant's embedding spaces: which one its searches use,
// which ones its documents are written to, and the migrations between
// them. Every method takes the tenant id.
type Service struct {
	pool    *pgxpool.Pool
	tenants *agents.ControlPlane
	indexes *search.Indexes
	docs    Estimator
	jobs    Jobs
	prices  map[string]float64
	offered []search.Space
	log     *slog.Logger
}

// New returns a Service on pool.
func New(pool *pgxpool.Pool, cfg Config) (*Service, error) {
	if cfg.Tenants == nil || cfg.Indexes == nil || cfg.Jobs == nil {
		return nil, errors.New("spaces: Tenants, Indexes and Jobs are required")
	}
	s := &Service{pool: pool, tenants: cfg.Tenants, indexes: cfg.Indexes, docs: cfg.Documents, jobs: cfg.Jobs,
		prices: cfg.Prices, offered: cfg.Offered, log: cfg.Logger}
	if s.prices == nil {
		s.prices = embedder.ListPrices
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Indexes returns the index of each space.
func (s *Service) Indexes() *search.Indexes { return s.indexes }

// def is the server's default space.
func (s *Service) def() search.Space { return s.indexes.Default().Space }

// SearchSpace implements search.Router: the space tenantID's searches use
// (zero: the default).
func (s *Service) SearchSpace(ctx context.Context, tenantID uuid.UUID) (search.Space, error) {
	sp, _, err := s.searchSpace(ctx, s.pool, tenantID)
	return sp, err
}

// ErrNoneOffered: a tenant asked to move, and the operator offers tenants
// no other embedding space; only the platform admin may choose one.
var ErrNoneOffered = errors.New("the operator offers tenants no other embedding model (RAGD_EMBEDDING_MODELS); ask the platform admin")

// UnavailableError: the embedding provider could not be asked (or the
// server embeds nothing); try again after RetryAfter.
type UnavailableError struct {
	Message    string
	RetryAfter time.Duration
}

func (e *UnavailableError) Error() string { return e.Message }

// Create starts moving tenantID to the space r names, or, with r.DryRun,
// says what that would take (nothing is stored). It refuses, with a
// *ragd.ValidationError, a space the tenant may not choose, the tenant's
// own, or one the provider does not serve at that size (it embeds a short
// text to know); with a *ragd.ConflictError while a migration of the
// tenant is under way; with ErrNoneOffered or *UnavailableError as they
// say.
func (s *Service) Create(ctx context.Context, tenantID uuid.UUID, r Request) (Migration, error) {
	to, window, err := r.validate()
	if err != nil {
		return Migration{}, err
	}
	if !r.Admin && !slices.Contains(s.offered, to) {
		if len(s.offered) == 0 {
			return Migration{}, ErrNoneOffered
		}
		names := make([]string, len(s.offered))
		for i, sp := range s.offered {
			names[i] = sp.String()
		}
		return Migration{}, (ragd.Problems{"model": "is not one of the models offered: " + strings.Join(names, ", ")}).Err()
	}
	if m, err := s.Live(ctx, tenantID); err != nil || m != nil {
		if err == nil {
			err = m.underWay()
		}
		return Migration{}, err
	}
	from, err := s.SearchSpace(ctx, tenantID)
	if err != nil {
		return Migration{}, err
	}
	from = from.Or(s.def())
	if to == from {
		return Migration{}, (ragd.Problems{"model": "is already the tenant's embedding space (" + from.String() + ")"}).Err()
	}
	if err := s.probe(ctx, tenantID, to); err != nil {
		return Migration{}, err
	}
	var est Estimate
	if s.docs != nil {
		if est.Documents, est.Chunks, est.Tokens, err = s.docs.EstimateEmbedding(ctx, tenantID); err != nil {
			return Migration{}, err
		}
	}
	if c, ok := embedder.Cost(s.prices, to.Model, est.Tokens); ok {
		est.CostUSD = &c
	}
	if r.DryRun {
		return Migration{TenantID: tenantID, From: from, To: to, RollbackWindow: window, Estimate: est, DryRun: true}, nil
	}
	return s.insertMigration(ctx, tenantID, from, to, window, est, r.By)
}

// ProbeText is the text Create embeds in the target space to know that
// the provider serves it.
const ProbeText = "ragd embedding probe"

// probe embeds one short text in the target space, so that a model the
// provider does not serve, or not at that size, is refused now rather
// than by the job.
func (s *Service) probe(ctx context.Context, tenantID uuid.UUID, to search.Space) error {
	idx, err := s.indexes.Get(ctx, to)
	if errors.Is(err, search.ErrUnknownSpace) {
		return (ragd.Problems{"model": err.Error()}).Err()
	}
	if err != nil {
		return err
	}
	_, err = idx.Embedder.Embed(ctx, tenantID, []string{ProbeText})
	if e, ok := embedder.AsError(err); ok {
		if e.Permanent() {
			return (ragd.Problems{"model": "the embedding provider refused " + to.String() + ": " + e.Message}).Err()
		}
		return &UnavailableError{Message: "the embedding provider did not answer; try again: " + e.Message, RetryAfter: max(e.Retry, 5*time.Second)}
	}
	return err
}

// End cancels, rolls back or completes a migration; a
// *ragd.ConflictError when its state does not allow it.
func (s *Service) End(ctx context.Context, tenantID, id uuid.UUID, how End) (Migration, error) {
	e, ok := ends[how]
	if !ok {
		return Migration{}, fmt.Errorf("end migration: unknown way %q", how)
	}
	return s.setState(ctx, tenantID, id, e.from, e.to, nil)
}

// otherRefused ends the tenant's live migration when sp, the space of it
// that search does not use, refused a text for good: a building one fails
// (its target cannot hold every document), an active one completes early
// (its source can no longer be kept whole for a rollback). It reports
// whether the tenant's spaces changed, so that the run goes on with the
// spaces its documents go to now.
func (s *Service) otherRefused(ctx context.Context, tenantID uuid.UUID, sp search.Space, e *embedder.Error) (bool, error) {
	m, err := s.Live(ctx, tenantID)
	if err != nil || m == nil {
		return m == nil && err == nil, err // none: it ended meanwhile
	}
	cause := fmt.Sprintf("%s refused a document's text: %s", sp, e.Message)
	switch {
	case m.State == Building && m.To == sp:
		s.log.WarnContext(ctx, "embedding migration failed: its target refused a document", "tenant_id", tenantID, "migration_id", m.ID, "err", e)
		return true, s.fail(ctx, *m, cause)
	case m.State == Active && m.From == sp:
		s.log.WarnContext(ctx, "embedding migration completed early: its source refused a document", "tenant_id", tenantID, "migration_id", m.ID, "err", e)
		cause += "; completed early, since a rollback could no longer find every document"
		_, err := s.setState(ctx, tenantID, m.ID, Active, Completed, &cause)
		var ce *ragd.ConflictError
		if errors.As(err, &ce) {
			err = nil // it moved on meanwhile
		}
		return true, err
	}
	return false, nil
}

// fail ends a building migration whose target cannot be built.
func (s *Service) fail(ctx context.Context, m Migration, cause string) error {
	_, err := s.setState(ctx, m.TenantID, m.ID, Building, Failed, &cause)
	var ce *ragd.ConflictError
	if errors.As(err, &ce) {
		return nil // ended otherwise meanwhile
	}
	return err
}

// FailBuild fails a building migration whose job gave up (it ran out of
// attempts): search stays on the source, and the target's points go.
func (s *Service) FailBuild(ctx context.Context, tenantID, id uuid.UUID, cause error) error {
	m, err := s.Get(ctx, tenantID, id)
	if errors.Is(err, ragd.ErrNotFound) || (err == nil && m.State != Building) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.fail(ctx, m, "building failed repeatedly: "+cause.Error())
}

// Settle does what a migration's state asks once the build job is done
// with it: an active one is completed when its rollback window is over
// (until then Settle returns the time to come back); a completed one has
// the source's points of the tenant removed; a cancelled, rolled back or
// failed one, the target's. Removing is skipped when the space is again
// one the tenant's documents go to (a later migration to it).
func (s *Service) Settle(ctx context.Context, tenantID, id uuid.UUID) (time.Time, error) {
	m, err := s.Get(ctx, tenantID, id)
	if errors.Is(err, ragd.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	var drop search.Space
	switch m.State {
	case Building:
		return time.Time{}, nil // the build job's
	case Active:
		if m.RetireAfter != nil && time.Now().Before(*m.RetireAfter) {
			return *m.RetireAfter, nil
		}
		_, err := s.setState(ctx, m.TenantID, m.ID, Active, Completed, nil) // queues the removal
		var ce *ragd.ConflictError
		if errors.As(err, &ce) {
			err = nil // it moved on meanwhile
		}
		return time.Time{}, err
	case Completed:
		drop = m.From
	default:
		drop = m.To
	}
	idx, err := s.indexes.Get(ctx, drop)
	if errors.Is(err, search.ErrUnknownSpace) {
		s.log.WarnContext(ctx, "cannot open an embedding space to remove a tenant's points from it", "space", drop.String(), "tenant_id", tenantID, "err", err)
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	err = s.clearSpace(ctx, tenantID, drop, func(ctx context.Context) error {
		return idx.Store.DeleteTenant(ctx, tenantID)
	})
	if err == nil {
		s.log.InfoContext(ctx, "embedding migration settled", "tenant_id", tenantID, "migration_id", id, "state", m.State, "removed", drop.String())
	}
	return time.Time{}, err
}
