package api

import (
	"errors"
	"net/http"

	"github.com/ragd/ragd/webhooks"
)

// createdEndpoint is the one response that carries a signing secret.
type createdEndpoint struct {
	webhooks.Endpoint
	Secret string `json:"secret"`
}

func handleCreateWebhook(hooks *webhooks.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		var in webhooks.Input
		if err := decode(w, r, &in); err != nil {
			return err
		}
		e, secret, err := hooks.Create(r.Context(), t.TenantID, in)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Location", "/v1/webhooks/"+e.ID.String())
		writeJSON(w, http.StatusCreated, createdEndpoint{Endpoint: e, Secret: secret})
		return nil
	}
}

func handleListWebhooks(hooks *webhooks.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		page, err := pageFrom(r)
		if err != nil {
			return err
		}
		list, next, err := hooks.List(r.Context(), t.TenantID, page)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(list, next))
		return nil
	}
}

func handleGetWebhook(hooks *webhooks.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "webhook_id")
		if err != nil {
			return err
		}
		e, err := hooks.Get(r.Context(), t.TenantID, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, e)
		return nil
	}
}

func handleUpdateWebhook(hooks *webhooks.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "webhook_id")
		if err != nil {
			return err
		}
		var in webhooks.Patch
		if err := decode(w, r, &in); err != nil {
			return err
		}
		e, err := hooks.Update(r.Context(), t.TenantID, id, in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, e)
		return nil
	}
}

func handleDeleteWebhook(hooks *webhooks.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "webhook_id")
		if err != nil {
			return err
		}
		if err := hooks.Delete(r.Context(), t.TenantID, id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func handleListDeliveries(hooks *webhooks.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "webhook_id")
		if err != nil {
			return err
		}
		page, err := pageFrom(r)
		if err != nil {
			return err
		}
		e, deliveries, next, err := hooks.Deliveries(r.Context(), t.TenantID, id, page)
		if err != nil {
			return err
		}
		// The endpoint as of the same moment as its deliveries, so that a
		// page showing both never shows a delivery's failure without the
		// endpoint turned off by it.
		writeJSON(w, http.StatusOK, struct {
			list[webhooks.Delivery]
			Endpoint webhooks.Endpoint `json:"endpoint"`
		}{newList(deliveries, next), e})
		return nil
	}
}

func handleRetryDelivery(hooks *webhooks.Service) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "webhook_id")
		if err != nil {
			return err
		}
		deliveryID, err := pathUUID(r, "delivery_id")
		if err != nil {
			return err
		}
		d, err := hooks.Retry(r.Context(), t.TenantID, id, deliveryID)
		if errors.Is(err, webhooks.ErrEndpointDisabled) {
			return errorf(http.StatusConflict, codeConflict, err.Error())
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, d)
		return nil
	}
}
