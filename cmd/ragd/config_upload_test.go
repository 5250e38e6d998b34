package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/api"
)

func TestConfigUploadFloor(t *testing.T) {
	t.Parallel()
	load := func(rate, grace string) (config, error) {
		env := map[string]string{"DATABASE_URL": "postgres://localhost/x", "RAGD_DATA_DIR": t.TempDir(),
			"RAGD_UPLOAD_MIN_RATE": rate, "RAGD_UPLOAD_GRACE": grace}
		return loadConfig("serve", nil, envFrom(env), io.Discard)
	}
	for _, tc := range []struct {
		rate, grace string
		wantRate    int64
		wantGrace   time.Duration
	}{
		{"", "", api.DefaultUploadMinRate, api.DefaultUploadGrace},
		{"16KiB", "1m", 16 << 10, time.Minute},
		{"16KiB/s", "", 16 << 10, api.DefaultUploadGrace},
		{"512", "5s", 512, 5 * time.Second},
		{"0", "", -1, api.DefaultUploadGrace}, // no floor
	} {
		cfg, err := load(tc.rate, tc.grace)
		if err != nil || cfg.UploadMinRate != tc.wantRate || cfg.UploadGrace != tc.wantGrace {
			t.Errorf("RAGD_UPLOAD_MIN_RATE=%q RAGD_UPLOAD_GRACE=%q: rate %d, grace %s, %v; want %d, %s",
				tc.rate, tc.grace, cfg.UploadMinRate, cfg.UploadGrace, err, tc.wantRate, tc.wantGrace)
		}
	}
	for _, tc := range []struct{ rate, grace, key string }{
		{"fast", "", "RAGD_UPLOAD_MIN_RATE"},
		{"-1", "", "RAGD_UPLOAD_MIN_RATE"},
		{"", "0s", "RAGD_UPLOAD_GRACE"},
		{"", "soon", "RAGD_UPLOAD_GRACE"},
	} {
		_, err := load(tc.rate, tc.grace)
		if err == nil || !strings.HasPrefix(err.Error(), tc.key+":") || strings.Contains(err.Error(), "\n") {
			t.Errorf("RAGD_UPLOAD_MIN_RATE=%q RAGD_UPLOAD_GRACE=%q: %v, want one line naming %s", tc.rate, tc.grace, err, tc.key)
		}
	}
}
