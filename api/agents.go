package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
)

func etag(a agents.Agent) string { return `"v` + strconv.Itoa(a.Version) + `"` }

// writeAgent answers with an agent and its ETag.
func writeAgent(w http.ResponseWriter, status int, a agents.Agent) {
	w.Header().Set("ETag", etag(a))
	writeJSON(w, status, a)
}

// ifMatch reads an If-Match header: nil when absent or "*", else the one
// version it names. A list or a tag this API never made cannot match.
func ifMatch(r *http.Request) (*int, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil, nil
	}
	h = strings.TrimPrefix(h, "W/")
	if v, ok := strings.CutPrefix(h, `"v`); ok {
		if v, ok := strings.CutSuffix(v, `"`); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return &n, nil
			}
		}
	}
	return nil, ragd.ErrPreconditionFailed
}

// dryRun reads ?dry_run=: true or false, false when absent. A dry run
// validates a change as the real one would and answers 200 with the agent
// it would make (without an ETag: that version does not exist), writing
// nothing.
func dryRun(r *http.Request) (bool, error) {
	q := r.URL.Query()
	if !q.Has("dry_run") {
		return false, nil
	}
	switch q.Get("dry_run") {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fieldError("dry_run", "must be true or false")
}

func handleCreateAgent(store *agents.ControlPlane) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		dry, err := dryRun(r)
		if err != nil {
			return err
		}
		var in agents.AgentPatch
		if err := decode(w, r, &in); err != nil {
			return err
		}
		if dry {
			a, err := store.DryRunCreateAgent(r.Context(), t.TenantID, in)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, a)
			return nil
		}
		a, err := store.CreateAgent(r.Context(), t.TenantID, in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/agents/"+a.ID)
		writeAgent(w, http.StatusCreated, a)
		return nil
	}
}

func handleListAgents(store *agents.ControlPlane) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		page, err := pageFrom(r)
		if err != nil {
			return err
		}
		list, next, err := store.ListAgents(r.Context(), t.TenantID, page)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(list, next))
		return nil
	}
}

func handleGetAgent(store *agents.ControlPlane) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		a, err := store.GetAgent(r.Context(), t.TenantID, r.PathValue("agent_id"))
		if err != nil {
			return err
		}
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, etag(a)) {
			w.Header().Set("ETag", etag(a))
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		writeAgent(w, http.StatusOK, a)
		return nil
	}
}

func handleUpdateAgent(store *agents.ControlPlane) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		dry, err := dryRun(r)
		if err != nil {
			return err
		}
		version, err := ifMatch(r)
		if err != nil {
			return err
		}
		var in agents.AgentPatch
		if err := decode(w, r, &in); err != nil {
			return err
		}
		if dry {
			a, err := store.DryRunUpdateAgent(r.Context(), t.TenantID, r.PathValue("agent_id"), in, version)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, a)
			return nil
		}
		a, err := store.UpdateAgent(r.Context(), t.TenantID, r.PathValue("agent_id"), in, version)
		if err != nil {
			return err
		}
		writeAgent(w, http.StatusOK, a)
		return nil
	}
}

func handleDeleteAgent(store *agents.ControlPlane) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		if err := store.DeleteAgent(r.Context(), t.TenantID, r.PathValue("agent_id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
