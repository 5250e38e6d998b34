package extract

import (
	"strings"
	"testing"
	"time"
)

// TestForSize: a document's processor time is CPUBase plus CPUPerMiB per
// MiB and its clock twice that, the configured limits being the ceiling;
// a limit its size cut says so in its failure's advice, one it did not
// keeps the advice for a long document.
func TestForSize(t *testing.T) {
	t.Parallel()
	lim := Limits{Timeout: 2 * time.Minute, Parallel: 2} // CPU 4 minutes
	base, rate := DefaultCPUBase*raceSlowdown, DefaultCPUPerMiB*raceSlowdown
	small := lim.ForSize(600)
	if small.CPU != base+time.Duration(float64(rate)*600/(1<<20)) || small.Timeout != 2*small.CPU {
		t.Errorf("a 600-byte file: CPU %s, clock %s", small.CPU, small.Timeout)
	}
	if !small.SizedCPU || !small.SizedTimeout {
		t.Error("a 600-byte file's limits are not marked as cut to its size")
	}
	if got := lim.ForSize(3 << 20); got.CPU != min(base+3*rate, 4*time.Minute) {
		t.Errorf("a 3 MiB file: CPU %s", got.CPU)
	}
	big := lim.ForSize(500 << 20)
	if big.CPU != 4*time.Minute || big.Timeout != 2*time.Minute || big.SizedCPU || big.SizedTimeout {
		t.Errorf("a 500 MiB file: CPU %s, clock %s, cut %v %v: want the configured limits", big.CPU, big.Timeout, big.SizedCPU, big.SizedTimeout)
	}
	if off := (Limits{Timeout: time.Minute, CPUPerMiB: -1}).ForSize(1); off.Timeout != time.Minute || off.SizedTimeout {
		t.Errorf("CPUPerMiB -1 scaled the clock to %s", off.Timeout)
	}
	for _, c := range []struct {
		e          *Error
		code, want string
	}{
		{TimedOut(small), CodeTimeout, "damaged"},
		{TooMuchCPU(small), CodeTooComplex, "damaged"},
		{TimedOut(big), CodeTimeout, "split the document"},
		{TooMuchCPU(big), CodeTooComplex, "split the document"},
	} {
		if c.e.Code != c.code || !strings.Contains(c.e.Message, c.want) {
			t.Errorf("%s %q: want code %s and %q", c.e.Code, c.e.Message, c.code, c.want)
		}
	}
	if strings.Contains(TimedOut(small).Message, "split") || strings.Contains(TooMuchCPU(small).Message, "split") {
		t.Error("a small file that ran out of its budget is told to split itself")
	}
}
