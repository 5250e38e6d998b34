package api

import (
	"net/http"

	"github.com/ragd/ragd/evals"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/search"
)

// maxEvaluationBody bounds POST /v1/evaluations: 1,000 queries of the
// longest kind with their judgments fit; 10,000 short ones reach the
// query limit's clear error rather than the body limit.
const maxEvaluationBody = 16 << 20

func handleCreateEvaluation(ev *evals.Evaluations, s *search.Searcher, docs *ingest.Documents) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		var in evals.Input
		if err := decodeLimit(w, r, &in, maxEvaluationBody); err != nil {
			return err
		}
		// Its query embeddings bill the monthly token quota: with the
		// quota spent, only an evaluation of sparse configurations runs.
		// (One started before it ran out finishes.)
		sparseOnly := len(in.Configs) > 0
		for _, c := range in.Configs {
			sparseOnly = sparseOnly && c.Mode == search.ModeSparse
		}
		if !sparseOnly {
			if err := docs.QueryTokensLeft(r.Context(), t.TenantID); err != nil {
				return err
			}
		}
		// The defaults of the tenant's embedding space, as its searches get.
		f, th, err := s.DefaultsFor(r.Context(), t.TenantID)
		if err != nil {
			return err
		}
		e, err := ev.Create(r.Context(), t.TenantID, in, f, th)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/evaluations/"+e.ID.String())
		writeJSON(w, http.StatusAccepted, e)
		return nil
	}
}

func handleGetEvaluation(ev *evals.Evaluations) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "evaluation_id")
		if err != nil {
			return err
		}
		e, err := ev.Get(r.Context(), t.TenantID, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, e)
		return nil
	}
}

type applyRequest struct {
	AgentID string `json:"agent_id"`
}

// handleApplyEvaluation sets an agent's retrieval settings from the
// evaluation's best configuration.
func handleApplyEvaluation(ev *evals.Evaluations) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "evaluation_id")
		if err != nil {
			return err
		}
		var in applyRequest
		if err := decode(w, r, &in); err != nil {
			return err
		}
		if in.AgentID == "" {
			return fieldError("agent_id", "is required")
		}
		a, _, err := ev.Apply(r.Context(), t.TenantID, id, in.AgentID)
		if err != nil {
			return err
		}
		writeAgent(w, http.StatusOK, a)
		return nil
	}
}
