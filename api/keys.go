package api

import (
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
)

// createdKey is the one response that carries a key in the clear.
type createdKey struct {
	agents.APIKey
	Key string `json:"key"`
}

func isNotFound(err error) bool { return errors.Is(err, ragd.ErrNotFound) }

func createKey(w http.ResponseWriter, r *http.Request, store *agents.ControlPlane, tenantID uuid.UUID, c caller) error {
	var in agents.KeyInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	// A tenant key may only hand out scopes it holds itself.
	if !c.admin {
		for _, s := range in.Scopes {
			if !c.has(s) {
				return errorf(http.StatusForbidden, codeForbiddenScope, "a key cannot grant the "+string(s)+" scope, which it does not hold")
			}
		}
		if in.Scopes == nil {
			for _, s := range agents.DefaultScopes {
				if !c.has(s) {
					return errorf(http.StatusForbidden, codeForbiddenScope, "this key lacks default scopes; name the scopes to grant")
				}
			}
		}
	}
	k, secret, err := store.CreateKey(r.Context(), tenantID, in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdKey{APIKey: k, Key: secret})
	return nil
}

func handleAdminCreateKey(store *agents.ControlPlane) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathTenant(r, store)
		if err != nil {
			return err
		}
		return createKey(w, r, store, id, caller{admin: true})
	}
}

func handleCreateKey(store *agents.ControlPlane) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		return createKey(w, r, store, t.TenantID, t.caller)
	}
}

func handleListKeys(store *agents.ControlPlane) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		page, err := pageFrom(r)
		if err != nil {
			return err
		}
		keys, next, err := store.ListKeys(r.Context(), t.TenantID, page)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(keys, next))
		return nil
	}
}

func handleRevokeKey(store *agents.ControlPlane) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "key_id")
		if err != nil {
			return err
		}
		if _, err := store.RevokeKey(r.Context(), t.TenantID, id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
