package api

import (
	"net/http"
	"strconv"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/sources"
)

// createdSource is the answer to a new source: it and its first run.
type createdSource struct {
	sources.Source
	Run sources.Run `json:"run"`
}

func handleCreateSource(srcs *sources.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		var in sources.Input
		if err := decode(w, r, &in); err != nil {
			return err
		}
		src, run, err := srcs.Create(r.Context(), t.TenantID, in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/sources/"+src.ID.String())
		writeJSON(w, http.StatusCreated, createdSource{Source: src, Run: run})
		return nil
	}
}

func handleListSources(srcs *sources.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		page, err := pageFrom(r)
		if err != nil {
			return err
		}
		list, next, err := srcs.List(r.Context(), t.TenantID, page)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(list, next))
		return nil
	}
}

func handleGetSource(srcs *sources.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "source_id")
		if err != nil {
			return err
		}
		src, err := srcs.Get(r.Context(), t.TenantID, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, src)
		return nil
	}
}

func handleUpdateSource(srcs *sources.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "source_id")
		if err != nil {
			return err
		}
		var in sources.Patch
		if err := decode(w, r, &in); err != nil {
			return err
		}
		src, err := srcs.Update(r.Context(), t.TenantID, id, in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, src)
		return nil
	}
}

// handleDeleteSource deletes a source and, unless ?keep_documents=true,
// its documents: 202 while they are deleted (a job), 204 when they stay.
func handleDeleteSource(srcs *sources.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "source_id")
		if err != nil {
			return err
		}
		keep := false
		if v := r.URL.Query().Get("keep_documents"); v != "" {
			if keep, err = strconv.ParseBool(v); err != nil {
				var probs ragd.Problems
				probs.Add("keep_documents", "must be true or false")
				return probs.Err()
			}
		}
		if err := srcs.Delete(r.Context(), t.TenantID, id, keep); err != nil {
			return err
		}
		if keep {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "status": "deleting",
			"message": "the source's documents are being deleted; the source goes with the last of them"})
		return nil
	}
}

func handleSyncSource(srcs *sources.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "source_id")
		if err != nil {
			return err
		}
		run, err := srcs.Sync(r.Context(), t.TenantID, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, run)
		return nil
	}
}

func handleListRuns(srcs *sources.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "source_id")
		if err != nil {
			return err
		}
		page, err := pageFrom(r)
		if err != nil {
			return err
		}
		list, next, err := srcs.Runs(r.Context(), t.TenantID, id, page)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(list, next))
		return nil
	}
}
