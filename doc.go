// Package ragd holds the vocabulary every ragd package shares: the kinds of
// error the domain packages return (which the HTTP layer maps to problem
// responses in one place), optional fields for partial updates, and list
// pagination. The packages that do the work are its siblings: agents,
// postgres, secret, api, and cmd/ragd which wires them.
package ragd
