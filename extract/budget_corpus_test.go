package extract

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBudgetFitsCorpus extracts every file under RAGD_BUDGET_CORPUS (a
// folder such as the shared devdata: PDFs, HTML pages, office files; the
// types Detect finds) one at a time, on one thread (Parallel 1), and
// measures each one's processor time and clock against the budget
// Limits.ForSize gives its size. A file the source calls damaged (pdfs/
// MANIFEST.tsv's category "broken") may run out of its budget; no other
// may come within BudgetMargin of it. With -v it prints every file and
// the worst processor seconds per MiB (the figure the default rate was
// set from). Not part of make test: the files live outside the
// repository.
//
//	RAGD_BUDGET_CORPUS=/work/shared/devdata go test ./extract -run TestBudgetFitsCorpus -v -timeout 1h
func TestBudgetFitsCorpus(t *testing.T) {
	dir := os.Getenv("RAGD_BUDGET_CORPUS")
	if dir == "" {
		t.Skip("RAGD_BUDGET_CORPUS names no folder")
	}
	broken := brokenInManifest(t, filepath.Join(dir, "pdfs", "MANIFEST.tsv"))
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	type worst struct {
		name            string
		perMiB, cpu     float64
		size            int64
		budget, clock   time.Duration
		cpuUse, wallUse time.Duration
	}
	var top, most worst
	var files, legit int
	var totalCPU time.Duration
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		typ, ok := Detect(bytes.NewReader(data), int64(len(data)), filepath.Base(p))
		if !ok {
			continue
		}
		files++
		rel, _ := filepath.Rel(dir, p)
		lim := Limits{Parallel: 1, Timeout: 10 * time.Minute, CPU: 10 * time.Minute}
		budget := lim.ForSize(int64(len(data)), typ)
		cpu0, start := processCPU(), time.Now()
		_, err = Extract(context.Background(), typ, data, lim)
		cpu, wall := processCPU()-cpu0, time.Since(start)
		totalCPU += cpu
		outcome := "ok"
		if e, ok := AsError(err); ok {
			outcome = e.Code
		}
		perMiB := cpu.Seconds() / (float64(len(data)) / (1 << 20))
		isBroken := broken[filepath.Base(p)]
		t.Logf("%-80s %-8s %9d B %8.3fs cpu %8.3fs wall %8.2f s/MiB budget %6.1fs %-16s%s",
			rel, typ, len(data), cpu.Seconds(), wall.Seconds(), perMiB, budget.CPU.Seconds(), outcome, map[bool]string{true: " (broken)"}[isBroken])
		if isBroken {
			continue
		}
		legit++
		if cpu > most.cpuUse {
			most = worst{rel, perMiB, cpu.Seconds(), int64(len(data)), budget.CPU, budget.Timeout, cpu, wall}
		}
		// Per byte, among files whose size the budget notices (a small
		// file's microseconds are noise, and the base covers them).
		if len(data) >= 64<<10 && perMiB > top.perMiB {
			top = worst{rel, perMiB, cpu.Seconds(), int64(len(data)), budget.CPU, budget.Timeout, cpu, wall}
		}
		if BudgetMargin*cpu > budget.CPU || BudgetMargin*wall > budget.Timeout {
			t.Errorf("%s (%d bytes) took %s of processor time and %s on the clock: within %dx of its budget (%s, %s)",
				rel, len(data), cpu, wall, BudgetMargin, budget.CPU, budget.Timeout)
		}
	}
	t.Logf("%d files read (%d not damaged), %s of processor time; not damaged: the most per MiB (64 KiB or more) %s, %d bytes, %.3fs: %.2f s/MiB (budget %s, clock %s); the most processor time %s, %d bytes, %.3fs (budget %s)",
		files, legit, totalCPU.Round(time.Millisecond), top.name, top.size, top.cpu, top.perMiB, top.budget, top.clock,
		most.name, most.size, most.cpu, most.budget)
}

// BudgetMargin is how many times its processor time and clock an honest
// file of TestBudgetFitsCorpus must have left in its budget.
const BudgetMargin = 5

// brokenInManifest is the set of files MANIFEST.tsv's category calls
// broken.
func brokenInManifest(t *testing.T, path string) map[string]bool {
	out := map[string]bool{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = '\t', true, -1
	head, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	file, cat := slices.Index(head, "file"), slices.Index(head, "category")
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if file >= 0 && cat >= 0 && strings.TrimSpace(rec[cat]) == "broken" {
			out[rec[file]] = true
		}
	}
	return out
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
