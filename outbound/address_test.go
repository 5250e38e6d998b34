package outbound

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRefused(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"127.0.0.1": "loopback", "::1": "loopback", "::ffff:127.0.0.1": "loopback", "10.0.0.1": "private",
		"192.168.1.1": "private", "172.16.0.1": "private", "fd00::1": "private", "169.254.169.254": "link-local",
		"fe80::1": "link-local", "0.0.0.0": "unspecified", "::": "unspecified", "239.1.2.3": "multicast", "224.0.0.1": "link-local",
		"100.64.0.1": "reserved", "64:ff9b::a00:1": "NAT64", "93.184.216.34": "", "2606:4700::1111": "",
	} {
		if got := Refused(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Refused(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestParseInetAton(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.1": "127.0.0.1", "2130706433": "127.0.0.1", "0x7f000001": "127.0.0.1", "0177.0.0.1": "127.0.0.1",
		"017700000001": "127.0.0.1", "127.000.000.001": "127.0.0.1", "0": "0.0.0.0", "0x": "0.0.0.0",
		"1.2.3": "1.2.0.3", "1.2.65535": "1.2.255.255", "1.16777215": "1.255.255.255", "4294967295": "255.255.255.255",
		"0xFF.0Xff.0377.255": "255.255.255.255", "010.010.010.010": "8.8.8.8",
		// Not addresses.
		"": "", "1.2.3.4.5": "", "1.2.3.": "", ".1": "", "1..2": "", "256.1.1.1": "", "1.2.65536": "",
		"4294967296": "", "08": "", "0x1g": "", "a.b.c.d": "", "1.2.3.4 ": "", "-1": "", "0xfffffffff": "",
		"99999999999999999999": "",
	} {
		got, ok := parseInetAton(in)
		if want == "" {
			if ok {
				t.Errorf("parseInetAton(%q) = %s, want no address", in, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddr(want) {
			t.Errorf("parseInetAton(%q) = %s, %v, want %s", in, got, ok, want)
		}
	}
}

// TestDialerRefusesAfterResolving: the dialer checks the addresses a
// name resolves to (localhost is loopback on every machine), so no
// spelling of a host gets past it; allowed, the same dial connects.
func TestDialerRefusesAfterResolving(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_, err = Dialer(time.Second, false).DialContext(context.Background(), "tcp", net.JoinHostPort("localhost", port))
	if why, ok := Reason(err); !ok || !strings.Contains(why, "loopback") {
		t.Fatalf("dial localhost: %v (%q)", err, why)
	}
	c, err := Dialer(time.Second, true).DialContext(context.Background(), "tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		t.Fatalf("allowed: %v", err)
	}
	c.Close()
	if got := CheckHost("LOCALHOST."); !strings.Contains(got, "localhost") {
		t.Errorf("CheckHost(LOCALHOST.) = %q", got)
	}
	if got := CheckHost("example.com"); got != "" {
		t.Errorf("CheckHost(example.com) = %q", got)
	}
}
