package server

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/search"
)

// SpaceOpener returns the opener of the indexes of embedding spaces other
// than the default, for tenants that migrate: an embedder of the same
// provider for that model and size (with openai, an OpenAI-compatible one
// configured as openai but for Model and Dimensions, through the embedding
// cache on pool; without, the local embedder, which has one model, at any
// size), and the store openStore gives for the space.
func SpaceOpener(openai *embedder.OpenAIConfig, pool *pgxpool.Pool, openStore func(sp search.Space) (search.VectorStore, error)) search.OpenFunc {
	return func(ctx context.Context, sp search.Space) (search.Index, error) {
		var emb embedder.Embedder
		if openai == nil {
			if sp.Model != embedder.LocalModel {
				return search.Index{}, fmt.Errorf("%w: %s (without OPENAI_API_KEY or OPENAI_BASE_URL only %s embeds, at any size)", search.ErrUnknownSpace, sp, embedder.LocalModel)
			}
			l, err := embedder.NewLocal(sp.Dimensions)
			if err != nil {
				return search.Index{}, fmt.Errorf("%w: %w", search.ErrUnknownSpace, err)
			}
			emb = l
		} else {
			cfg := *openai
			cfg.Model, cfg.Dimensions = sp.Model, sp.Dimensions
			e, err := embedder.NewOpenAI(cfg)
			if err != nil {
				return search.Index{}, fmt.Errorf("%w: %w", search.ErrUnknownSpace, err)
			}
			emb = embedder.NewCached(e, pool)
		}
		store, err := openStore(sp)
		if err != nil {
			return search.Index{}, err
		}
		return search.Index{Embedder: emb, Store: store}, nil
	}
}
