package ragd

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestCursor(t *testing.T) {
	t.Parallel()
	c := Cursor{Time: time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC), ID: "agent-1|odd"}
	got, err := DecodeCursor(c.Encode())
	if err != nil || !got.Time.Equal(c.Time) || got.ID != c.ID {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "!!", "YWJj", "MTIzfA", string(make([]byte, 2000))} {
		if _, err := DecodeCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("DecodeCursor(%q) err = %v", bad, err)
		}
	}
}

func TestTrimPage(t *testing.T) {
	t.Parallel()
	key := func(n int) Cursor { return Cursor{ID: string(rune('a' + n))} }
	items, next := TrimPage([]int{0, 1, 2}, 2, key)
	if len(items) != 2 || next == nil || next.ID != "b" {
		t.Fatalf("full page: %v %v", items, next)
	}
	items, next = TrimPage([]int{0, 1}, 2, key)
	if len(items) != 2 || next != nil {
		t.Fatalf("last page: %v %v", items, next)
	}
}

func TestPageArguments(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ limit, size int }{{0, DefaultPageLimit}, {-3, DefaultPageLimit}, {1, 1}, {MaxPageLimit, MaxPageLimit}, {MaxPageLimit + 1, MaxPageLimit}} {
		if got := (Page{Limit: c.limit}).Size(); got != c.size {
			t.Errorf("Page{Limit: %d}.Size() = %d, want %d", c.limit, got, c.size)
		}
	}
	if at, id := (Page{}).Key(EndOfTime); !at.Equal(EndOfTime) || id != "" {
		t.Errorf("no cursor: Key = %v %q, want the start", at, id)
	}
	c := Cursor{Time: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), ID: "x"}
	if at, id := (Page{After: &c}).Key(EndOfTime); !at.Equal(c.Time) || id != "x" {
		t.Errorf("cursor: Key = %v %q, want the cursor's", at, id)
	}
}

func TestOptional(t *testing.T) {
	t.Parallel()
	var v struct {
		A Optional[string] `json:"a"`
		B Optional[string] `json:"b"`
		C Optional[int]    `json:"c"`
	}
	if err := json.Unmarshal([]byte(`{"a": null, "c": 3}`), &v); err != nil {
		t.Fatal(err)
	}
	if !v.A.Set || !v.A.Null || v.A.Present() {
		t.Errorf("a = %+v, want set and null", v.A)
	}
	if v.B.Set {
		t.Errorf("b = %+v, want unset", v.B)
	}
	if !v.C.Present() || v.C.Value != 3 {
		t.Errorf("c = %+v, want 3", v.C)
	}
	if err := json.Unmarshal([]byte(`{"c": "x"}`), &v); err == nil {
		t.Error("a string was accepted for an Optional[int]")
	}
}

func TestProblems(t *testing.T) {
	t.Parallel()
	var p Problems
	if p.Err() != nil {
		t.Fatal("no problems is an error")
	}
	p.Add("name", "is required")
	p.Add("name", "second message is dropped")
	var ve *ValidationError
	if !errors.As(p.Err(), &ve) || ve.Fields["name"] != "is required" {
		t.Fatalf("err = %v", p.Err())
	}
}
