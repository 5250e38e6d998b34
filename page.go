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
