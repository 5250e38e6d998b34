// Package spaces is a tenant's embedding spaces and the migrations
// between them. An embedding space is a model at a dimension count
// (search.Space): vectors of two spaces are never compared, so each has
// its own index (search.Indexes opens them). A tenant's searches use one
// space at a time, read per search (SearchSpace implements search.Router);
// a Migration moves the tenant to another without a moment where search
// is empty or mixes the two.
//
// A migration is a small state machine (state.go: the states, the
// transitions allowed, a diagram). Create starts one (building): the
// build job embeds every searchable document into the target (the ingest
// pipeline does the embedding, asking a Build what is left) while new
// versions are written to both spaces; the cut-over switches the tenant's
// searches in the transaction that checks the target holds every
// searchable document at its searchable version (active); the source is
// kept for a rollback window, after which the settle job completes it
// and removes the tenant's points from the space it left. End cancels,
// rolls back or completes one.
//
// The ingest pipeline asks one thing of this package, through a Write:
// which indexes a document version goes to now, confirmed in the
// transaction that makes the version searchable, under the tenant's
// shared space lock that every change of its spaces takes exclusively.
// It never sees a migration's state.
//
// Service owns embedding_migrations, embedding_migration_documents,
// embedding_spaces and embedding_space_purges; it switches the tenant's
// search space through package agents, which owns tenants, and reads the
// searchable version of documents (never writes them).
package spaces
