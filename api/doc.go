// Package api is ragd's HTTP interface: the route table (routes.go), the
// authentication of admin tokens and tenant API keys, JSON decoding with
// strict limits, and the one place (problem.go) where errors become RFC 9457
// problem responses with a stable code.
package api
