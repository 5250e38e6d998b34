package api

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/ingest"
)

// pathTenant reads the tenant_id path parameter of an admin route and
// checks that the tenant exists (404 otherwise).
func pathTenant(r *http.Request, store *agents.ControlPlane) (uuid.UUID, error) {
	id, err := pathUUID(r, "tenant_id")
	if err != nil {
		return uuid.Nil, err
	}
	if _, err := store.GetTenant(r.Context(), id); err != nil {
		return uuid.Nil, err
	}
	return id, nil
}

// pathUUID reads a uuid path parameter; anything else is simply not found.
func pathUUID(r *http.Request, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue(name))
	if err != nil {
		return uuid.Nil, ragd.ErrNotFound
	}
	return id, nil
}

func handleCreateTenant(store *agents.ControlPlane) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in agents.TenantPatch
		if err := decode(w, r, &in); err != nil {
			return err
		}
		t, err := store.CreateTenant(r.Context(), in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/tenants/"+t.ID.String())
		writeJSON(w, http.StatusCreated, t)
		return nil
	}
}

func handleListTenants(store *agents.ControlPlane) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if org := r.URL.Query().Get("clerk_org_id"); org != "" {
			t, err := store.GetTenantByClerkOrg(r.Context(), org)
			switch {
			case err == nil:
				writeJSON(w, http.StatusOK, newList([]agents.Tenant{t}, nil))
				return nil
			case isNotFound(err):
				writeJSON(w, http.StatusOK, newList([]agents.Tenant{}, nil))
				return nil
			default:
				return err
			}
		}
		page, err := pageFrom(r)
		if err != nil {
			return err
		}
		ts, next, err := store.ListTenants(r.Context(), page)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(ts, next))
		return nil
	}
}

func handleGetTenant(store *agents.ControlPlane) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUUID(r, "tenant_id")
		if err != nil {
			return err
		}
		t, err := store.GetTenant(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, t)
		return nil
	}
}

// handleOwnTenant answers the caller's own tenant (GET /v1/tenant).
func handleOwnTenant(store *agents.ControlPlane) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		tenant, err := store.GetTenant(r.Context(), t.TenantID)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, tenant)
		return nil
	}
}

func handleUpdateTenant(store *agents.ControlPlane) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUUID(r, "tenant_id")
		if err != nil {
			return err
		}
		var in agents.TenantPatch
		if err := decode(w, r, &in); err != nil {
			return err
		}
		t, err := store.UpdateTenant(r.Context(), id, in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, t)
		return nil
	}
}

func handleDeleteTenant(store *agents.ControlPlane) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUUID(r, "tenant_id")
		if err != nil {
			return err
		}
		if err := store.DeleteTenant(r.Context(), id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// handleReindexTenant queues the rebuild of a tenant's vector points from
// Postgres (the reindex_tenant job).
func handleReindexTenant(store *agents.ControlPlane, docs *ingest.Documents) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathTenant(r, store)
		if err != nil {
			return err
		}
		if err := docs.RebuildTenant(r.Context(), id); err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"tenant_id": id.String(), "job": "reindex_tenant", "status": "queued"})
		return nil
	}
}
