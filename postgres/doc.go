// Package postgres owns ragd's connection pool and schema: versioned SQL
// migrations embedded in the binary, applied together with River's own
// migrations under one advisory lock so that several nodes starting at once
// migrate exactly once.
package postgres
