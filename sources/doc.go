// Package sources keeps a tenant's website, sitemap or single URL as
// documents, and in sync with it.
//
// A source is crawled in runs. A run's frontier (the URLs it found, once
// each) is in Postgres, and a run is worked in slices, each a job of the
// sources queue that fetches for Config.Slice and then gives its worker
// to the next run waiting, so a 50,000-page site neither holds a worker
// for hours nor loses more than a slice to a crash. Every page is a
// document (ingest.Documents: its URL the external id, its title the
// page's), stored, replaced or left alone by what its fetch answered:
// conditional requests (ETag, Last-Modified) make an unchanged page a
// 304, and a page whose bytes, or for HTML whose text, did not change is
// not processed again. A page missing from MissingRuns runs in a row is
// deleted with its document.
//
// Fetching is a good citizen's (robots.txt through temoto/robotstxt, a
// delay and a bound on requests in flight per host, a User-Agent that
// says who crawls, caps on size, time and redirects) and a safe one:
// through package outbound's address policy, with no environment proxy.
// The crawl reads links and canonical URLs with a tokenizer's single
// pass over a bounded page, not a parser; a page's text is extracted by
// the ingest pipeline, in its sandbox, as any upload's.
package sources
