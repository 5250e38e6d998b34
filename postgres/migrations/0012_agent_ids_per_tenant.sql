-- Agent ids are unique per tenant, not across all tenants: a global key let
-- one tenant learn (409) and squat another's ids. Existing rows keep their
-- ids; every query already names the tenant, so each route now finds the
-- caller's agent by (tenant_id, id), which this key also indexes.
ALTER TABLE agents DROP CONSTRAINT agents_pkey;
ALTER TABLE agents ADD CONSTRAINT agents_pkey PRIMARY KEY (tenant_id, id);

-- Sealed secrets had the agent id alone as their associated data, which no
-- longer names one row. Secrets sealed from now on are bound to the tenant
-- id and the agent id together, and say so here; the rows already written
-- (and any written by a ragd from before this migration during a rolling
-- upgrade, hence the default) keep opening with the agent id alone until
-- their next update seals them again.
ALTER TABLE agents ADD COLUMN secrets_bound_to_tenant boolean NOT NULL DEFAULT false;
