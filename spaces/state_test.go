package spaces

import (
	"slices"
	"testing"
	"time"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/search"
)

var allStates = []State{Building, Active, Completed, Cancelled, RolledBack, Failed}

// TestStateMachine: the transitions are those the diagram draws; only
// building and active are live (they have somewhere to go); each way to
// end a migration is one of the transitions.
func TestStateMachine(t *testing.T) {
	t.Parallel()
	want := map[[2]State]bool{
		{Building, Active}: true, {Building, Cancelled}: true, {Building, Failed}: true,
		{Active, Completed}: true, {Active, RolledBack}: true,
	}
	for _, from := range allStates {
		for _, to := range allStates {
			if got := from.CanBecome(to); got != want[[2]State{from, to}] {
				t.Errorf("%s -> %s allowed: %v, want %v", from, to, got, !got)
			}
		}
	}
	for _, s := range allStates {
		if live := s == Building || s == Active; s.Live() != live {
			t.Errorf("%s live: %v, want %v", s, s.Live(), live)
		}
	}
	for how, e := range ends {
		if !e.from.CanBecome(e.to) {
			t.Errorf("%s leads from %s to %s, which the machine does not allow", how, e.from, e.to)
		}
	}
	if len(ends) != 3 {
		t.Errorf("%d ways to end a migration, want cancel, rollback and complete", len(ends))
	}
}

// TestMigrationView: the space search uses and how far the migration is,
// in each state.
func TestMigrationView(t *testing.T) {
	t.Parallel()
	from, to := search.Space{Model: "a", Dimensions: 8}, search.Space{Model: "b", Dimensions: 16}
	cut := time.Now()
	for _, tc := range []struct {
		m        Migration
		uses     search.Space
		fraction float64
	}{
		{Migration{State: Building, Estimate: Estimate{Documents: 2, Chunks: 10}, DoneChunks: 5}, from, 0.5},
		{Migration{State: Building, Estimate: Estimate{Documents: 2, Chunks: 10}, DoneChunks: 10}, from, 0.99},
		{Migration{State: Building}, from, 1},
		{Migration{State: Active, CutOverAt: &cut, Estimate: Estimate{Chunks: 10}}, to, 1},
		{Migration{State: Completed, CutOverAt: &cut}, to, 1},
		{Migration{State: RolledBack, CutOverAt: &cut}, from, 1},
		{Migration{State: Cancelled, Estimate: Estimate{Documents: 1, Chunks: 4}, DoneChunks: 2}, from, 0},
		{Migration{State: Failed}, from, 0},
	} {
		tc.m.From, tc.m.To = from, to
		if got := tc.m.SearchUses(); got != tc.uses {
			t.Errorf("%s: search uses %v, want %v", tc.m.State, got, tc.uses)
		}
		if got := tc.m.Fraction(); got != tc.fraction {
			t.Errorf("%s (%d of %d chunks): fraction %v, want %v", tc.m.State, tc.m.DoneChunks, tc.m.Estimate.Chunks, got, tc.fraction)
		}
	}
}

// TestRequestValidation: a request's model, dimensions and rollback
// window, field by field, with the API's field names; the window's
// default; the model trimmed.
func TestRequestValidation(t *testing.T) {
	t.Parallel()
	secs := func(s int64) *int64 { return &s }
	for _, tc := range []struct {
		name   string
		r      Request
		fields []string
		window time.Duration
	}{
		{"Good", Request{Model: " text-embedding-3-large ", Dimensions: 1024}, nil, DefaultRollbackWindow},
		{"NoWindow", Request{Model: "m", Dimensions: 8, RollbackWindowSeconds: secs(0)}, nil, 0},
		{"LongestWindow", Request{Model: "m", Dimensions: 16384, RollbackWindowSeconds: secs(30 * 24 * 3600)}, nil, MaxRollbackWindow},
		{"NoModel", Request{Dimensions: 8}, []string{"model"}, 0},
		{"SpaceInModel", Request{Model: "a b", Dimensions: 8}, []string{"model"}, 0},
		{"ControlInModel", Request{Model: "a\x00b", Dimensions: 8}, []string{"model"}, 0},
		{"LongModel", Request{Model: string(make([]byte, 201)), Dimensions: 8}, []string{"model"}, 0},
		{"FewDimensions", Request{Model: "m", Dimensions: 7}, []string{"dimensions"}, 0},
		{"ManyDimensions", Request{Model: "m", Dimensions: 16385}, []string{"dimensions"}, 0},
		{"NegativeWindow", Request{Model: "m", Dimensions: 8, RollbackWindowSeconds: secs(-1)}, []string{"rollback_window_seconds"}, 0},
		{"WindowPastAMonth", Request{Model: "m", Dimensions: 8, RollbackWindowSeconds: secs(30*24*3600 + 1)}, []string{"rollback_window_seconds"}, 0},
		{"WindowBeyondADuration", Request{Model: "m", Dimensions: 8, RollbackWindowSeconds: secs(1 << 62)}, []string{"rollback_window_seconds"}, 0},
		{"Everything", Request{Dimensions: 0, RollbackWindowSeconds: secs(-5)}, []string{"dimensions", "model", "rollback_window_seconds"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp, window, err := tc.r.validate()
			if tc.fields == nil {
				if err != nil || window != tc.window || sp.Model != tc.r.Model || sp.Model != "text-embedding-3-large" && tc.name == "Good" {
					t.Fatalf("space %v, window %s, %v; want window %s", sp, window, err, tc.window)
				}
				return
			}
			ve, ok := err.(*ragd.ValidationError)
			if !ok {
				t.Fatalf("err = %v, want a validation error", err)
			}
			var got []string
			for f := range ve.Fields {
				got = append(got, f)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.fields) {
				t.Fatalf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}
