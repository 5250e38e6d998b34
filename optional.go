package ragd

import "encoding/json"

// Optional is a field of a partial update (JSON merge patch, RFC 7396):
// absent (Set false) leaves the value alone, null (Null true) clears it,
// anything else replaces it with Value.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// Some returns an Optional set to v.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: v} }

// UnmarshalJSON implements json.Unmarshaler. encoding/json calls it only
// for keys present in the input, null included.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Present reports whether a non-null value was given.
func (o Optional[T]) Present() bool { return o.Set && !o.Null }
