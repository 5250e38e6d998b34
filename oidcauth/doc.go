// Package oidcauth verifies bearer JWTs issued by an OpenID Connect
// provider (Clerk, Auth0, Keycloak, ...) and maps them to a tenant and
// scopes: the organization claim names the tenant, the role claim picks
// scopes from Config.RoleScopes.
//
// Signatures are checked against the issuer's JWKS with only the configured
// asymmetric algorithms allowed ("none" and HS* are refused), and the key set
// is fetched again at most once per Config.RefreshInterval however many
// tokens name unknown keys. Discovery is lazy: a Verifier starts while the
// issuer is down and answers ErrUnavailable until it is back.
//
// Package oidctest provides an in-process issuer for tests.
package oidcauth
