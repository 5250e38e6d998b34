package webhooks

import (
	"errors"
	"strings"
	"testing"

	"github.com/ragd/ragd"
)

// TestRegistrationRefusesEverySpelling: a URL whose host is a refused
// address is refused at registration however it is spelt, as a resolver
// would read it; names, public addresses and valid ports pass; with
// AllowPrivate only what is malformed (a port out of range) is refused.
func TestRegistrationRefusesEverySpelling(t *testing.T) {
	t.Parallel()
	refusedURLs := map[string]string{ // URL: what the problem says
		// Numeric IPv4 as glibc's inet_aton reads it: all 127.0.0.1.
		"http://127.1/":            "loopback",
		"http://2130706433/":       "loopback",
		"http://0x7f000001/":       "loopback",
		"http://0X7F000001/":       "loopback",
		"http://0177.0.0.1/":       "loopback",
		"http://017700000001/":     "loopback",
		"http://127.000.000.001/":  "loopback",
		"http://0x7f.0.0.1/":       "loopback",
		"http://0x7f.1/":           "loopback",
		"http://127.0.1/":          "loopback",
		"http://127.1.:8080/":      "loopback", // the trailing dot of a fully qualified name
		"http://0/":                "unspecified",
		"http://0x/":               "unspecified",
		"http://0.0.0.0/":          "unspecified",
		"http://10.1/":             "private",
		"http://167772161/":        "private", // 10.0.0.1
		"http://0xa9.0xfe.169.254": "link-local",
		"http://2852039166/":       "link-local", // 169.254.169.254
		// Ports.
		"http://example.com:0/":        "port",
		"http://example.com:99999/":    "port",
		"https://93.184.216.34:65536/": "port",
		// IPv6 that embeds IPv4.
		"http://[::127.0.0.1]/":        "IPv4-compatible",
		"http://[::7f00:1]/":           "IPv4-compatible",
		"http://[::ffff:127.0.0.1]/":   "loopback",
		"http://[::ffff:7f00:1]/":      "loopback",
		"http://[::ffff:0:7f00:1]/":    "IPv4-translated",
		"http://[2002:7f00:1::]/":      "6to4",
		"http://[2002::1]/":            "6to4",
		"http://[2001::1]/":            "Teredo",
		"http://[2001:0:4136:e378::]/": "Teredo",
		"http://[64:ff9b::7f00:1]/":    "NAT64",
		"http://[64:ff9b:1::1]/":       "NAT64",
		// Documentation, benchmarking and other special ranges.
		"http://[2001:db8::1]/":    "documentation",
		"http://[3fff::1]/":        "documentation",
		"http://[100::1]/":         "discard-only",
		"http://[2001:10::1]/":     "reserved",
		"http://[2001:2::1]/":      "benchmarking",
		"http://[fec0::1]/":        "site-local",
		"http://[fe80::1%25eth0]/": "link-local",
		"http://[::1]/":            "loopback",
		"http://[::]/":             "unspecified",
		"http://[fd12::1]/":        "private",
		"http://[ff0e::1]/":        "multicast",
		"http://[4000::1]/":        "reserved", // outside global unicast 2000::/3
		"http://192.88.99.1/":      "6to4 relay",
		"http://198.18.0.1/":       "benchmarking",
		"http://198.19.255.255/":   "benchmarking",
		"http://192.0.2.1/":        "documentation",
		"http://198.51.100.7/":     "documentation",
		"http://203.0.113.9/":      "documentation",
		"http://100.64.0.1/":       "reserved",
		"http://192.0.0.8/":        "reserved",
		"http://255.255.255.255/":  "reserved",
		"http://localhost:8080/":   "localhost",
		"http://１２７。０。０。１/":        "loopback", // as net/http dials it, through IDNA
		"http://①②⑦.1/":            "loopback",
		"http://ｌｏｃａｌｈｏｓｔ/":        "localhost",
		"http://api.localhost/":    "localhost",
	}
	for raw, want := range refusedURLs {
		_, err := Input{URL: raw, EventTypes: EventTypes}.validate(Config{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want refused as %s", raw, err, want)
		}
	}
	allowed := []string{
		"https://example.com/hooks",
		"https://hooks.example.com:8443/x?y=1",
		"http://93.184.216.34/",
		"http://93.184.216.34:65535/",
		"https://[2606:4700::1111]/",
		"https://[2a00:1450:4001:80b::200e]:443/",
		"http://[::ffff:93.184.216.34]/", // dialled as 93.184.216.34
		"http://1.1/",                    // 1.0.0.1, public
		"http://8.8.8.8./",
		"http://0x08080808/",
		"https://127.0.0.1.nip.io/", // a name: its addresses are checked when sending
		"https://1.2.3.4.5/",        // five parts: not an address to inet_aton, so a name
		"https://08.1.2.3/",         // 08 is no octal number: a name
		"https://bücher.example/",   // IDNA: xn--bcher-kva.example
	}
	for _, raw := range allowed {
		if _, err := (Input{URL: raw, EventTypes: EventTypes}).validate(Config{}); err != nil {
			t.Errorf("%s: %v, want allowed", raw, err)
		}
	}
	// With AllowPrivate every address is allowed, but not a port that
	// cannot be.
	for raw, want := range refusedURLs {
		_, err := Input{URL: raw, EventTypes: EventTypes}.validate(Config{AllowPrivate: true})
		if (err != nil) != (want == "port") {
			t.Errorf("%s with AllowPrivate: %v", raw, err)
		}
	}
}

// TestRefusalNamesTheSetting: a person developing a receiver on their own
// machine learns from the refusal which setting lets a development server
// send to it.
func TestRefusalNamesTheSetting(t *testing.T) {
	for _, url := range []string{"http://127.0.0.1:9000/", "http://localhost:9000/", "http://10.0.0.5/"} {
		_, err := Input{URL: url, EventTypes: []string{EventTypes[0]}}.validate(Config{})
		var ve *ragd.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(ve.Fields["url"], "RAGD_WEBHOOK_ALLOW_PRIVATE") {
			t.Errorf("%s: %v", url, err)
		}
	}
}
