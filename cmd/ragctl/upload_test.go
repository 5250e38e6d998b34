package main

import (
	"testing"

	"github.com/schollz/progressbar/v3"
)

// TestProcessingBarNamesWhatItWaitsFor: the processing bar names the file
// waited on longest and its stage, and how many more are in flight.
func TestProcessingBarNamesWhatItWaitsFor(t *testing.T) {
	f := newInFlight(progressbar.DefaultSilent(3))
	f.set("docs/a.pdf", document{Status: "queued"})
	f.set("docs/b.md", document{Status: "processing", Stage: "embedding"})
	if got := f.description(); got != "processing a.pdf (queued) +1" {
		t.Fatalf("two in flight: %q", got)
	}
	f.set("docs/a.pdf", document{Status: "processing", Stage: "extracting"})
	if got := f.description(); got != "processing a.pdf (extracting) +1" {
		t.Fatalf("a.pdf extracting: %q", got)
	}
	f.done("docs/a.pdf")
	if got := f.description(); got != "processing b.md (embedding)" {
		t.Fatalf("a.pdf done: %q", got)
	}
	f.done("docs/b.md")
	if got := f.description(); got != "processing" {
		t.Fatalf("none left: %q", got)
	}
}
