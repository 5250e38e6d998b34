// Package webhooks tells a tenant's endpoints what happened to its
// documents and evaluations, signed per the Standard Webhooks
// specification.
//
// Endpoints (a URL, the event types it wants, a signing secret shown once
// and kept sealed) are the tenant's. Record writes an event to an outbox
// table in the transaction of the change it reports, with a delivery per
// subscribed endpoint and each delivery's job, so an event exists if and
// only if its change committed, and is sent even when the process dies
// right after the commit. Deliver makes a delivery's attempts, in order
// per subject and endpoint: a delivery waits while an earlier event of the
// same document to the same endpoint is still pending. Failed attempts are
// retried on Config.Retries' schedule (about a day); an endpoint on which
// every attempt failed for a whole schedule is disabled, with the reason.
//
// Sending refuses loopback, private, link-local and other non-public
// addresses after name resolution (unless Config.AllowPrivate), follows no
// redirect, times out in seconds and keeps at most ExcerptBytes of an
// answer.
package webhooks
