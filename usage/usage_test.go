package usage

import (
	"errors"
	"testing"
	"time"

	"github.com/ragd/ragd"
)

// TestPeriods: usage is counted in UTC days and calendar months, whatever
// the zone of the time given.
func TestPeriods(t *testing.T) {
	t.Parallel()
	tokyo := time.FixedZone("JST", 9*3600)
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, tokyo) // 2026-11-30 18:00 UTC
	if got, want := DayStart(at), time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("DayStart = %v, want %v", got, want)
	}
	if got, want := MonthStart(at), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("MonthStart = %v, want %v", got, want)
	}
}

// TestDailyRange: a number of days out of range is the caller's error,
// for the field "days", before any query.
func TestDailyRange(t *testing.T) {
	t.Parallel()
	for _, days := range []int{-1, 0, MaxDays + 1} {
		_, err := Daily(t.Context(), nil, [16]byte{}, days)
		var ve *ragd.ValidationError
		if !errors.As(err, &ve) || ve.Fields["days"] != DaysProblem {
			t.Errorf("%d days: %v, want a validation error for days", days, err)
		}
	}
}
