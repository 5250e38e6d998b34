package ragd

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Page limits and defaults for every list endpoint.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// Page asks for up to Limit items after the Cursor (nil: from the start).
// Lists are ordered by creation time, then id.
type Page struct {
	Limit int
	After *Cursor
}

// Size is how many items the page holds: Limit, or DefaultPageLimit when
// Limit is not set, and never more than MaxPageLimit.
func (p Page) Size() int {
	if p.Limit <= 0 {
		return DefaultPageLimit
	}
	return min(p.Limit, MaxPageLimit)
}

// Key returns the keyset arguments of "after the cursor" for a list
// ordered by (created_at, id::text): the cursor's time and id, or start
// and "" when there is no cursor (the zero time for an oldest-first list,
// EndOfTime for a newest-first one).
func (p Page) Key(start time.Time) (time.Time, string) {
	if p.After == nil {
		return start, ""
	}
	return p.After.Time, p.After.ID
}

// EndOfTime sorts after every creation time: where a newest-first list
// starts.
var EndOfTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Cursor is the position of the last item of a page: its creation time and
// id. It travels to clients as an opaque string.
type Cursor struct {
	Time time.Time
	ID   string
}

// Encode returns the opaque form of c.
func (c Cursor) Encode() string {
	raw := strconv.FormatInt(c.Time.UnixMicro(), 10) + "|" + c.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ErrBadCursor is returned by DecodeCursor for anything it did not make.
var ErrBadCursor = errors.New("invalid cursor")

// DecodeCursor parses the opaque form made by Encode.
func DecodeCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) > 512 {
		return Cursor{}, ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	micros, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || id == "" {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{Time: time.UnixMicro(micros).UTC(), ID: id}, nil
}

// TrimPage cuts items, which a store fetched with a limit of limit+1, down
// to limit, and returns the cursor of the next page when there is one.
func TrimPage[T any](items []T, limit int, key func(T) Cursor) ([]T, *Cursor) {
	if len(items) <= limit {
		return items, nil
	}
	items = items[:limit]
	c := key(items[limit-1])
	return items, &c
}
