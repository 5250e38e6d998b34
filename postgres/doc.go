// Package postgres owns ragd's connection pool and schema: versioned SQL
// migrations embedded in the binary, applied by MigrateSchema together with
// River's own migrations under one advisory lock, so that several nodes
// starting at once migrate exactly once, and refused when an applied one
// has changed or the database is newer than the binary. CheckSchema is
// the read-only counterpart for the commands that do not migrate: it
// reports, as a *SchemaError, any migration of ragd's or River's that the
// database lacks or that this binary does not know.
package postgres
