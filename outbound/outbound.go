// Package outbound is how ragd reaches addresses its tenants name (webhook
// receivers, websites to crawl): only public ones, unless the operator
// allows others. The one classifier of addresses is Refused; CheckHost
// applies it to a URL's host as the system's resolver would read it, and
// Dialer to every address a name resolves to, when connecting, so that a
// name resolving (or rebound) to a private address is refused as the
// address itself is.
package outbound

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrRefusedAddress is returned when a host is, or resolves to, an
// address the policy refuses.
var ErrRefusedAddress = errors.New("address refused")

// CheckHost says why a URL's host (url.URL.Hostname: an IPv6 address
// without its brackets) may not be reached ("" when it may): localhost
// and its subdomains, and a host that is an address, in any spelling the
// system's resolver reads as one (HostAddr), in a refused range. A name
// is not resolved here: Dialer checks its addresses when connecting.
func CheckHost(hostname string) string {
	host := strings.ToLower(strings.TrimSuffix(ASCIIHost(hostname), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return "must not be localhost: loopback addresses are refused"
	}
	if addr, ok := HostAddr(host); ok {
		if why := Refused(addr); why != "" {
			spelt := hostname
			if a := addr.Unmap().String(); a != spelt {
				spelt += ", which is " + a
			}
			return fmt.Sprintf("must not be %s: %s addresses are refused", spelt, why)
		}
	}
	return ""
}

// Dialer returns a dialer that refuses every address Refused names, after
// name resolution, for each address tried; allowPrivate turns the check
// off (tests and local development).
func Dialer(timeout time.Duration, allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrRefusedAddress, address)
			}
			if why := Refused(ap.Addr()); why != "" {
				return fmt.Errorf("%w: %s is a %s address", ErrRefusedAddress, ap.Addr(), why)
			}
			return nil
		}
	}
	return d
}

// Reason is the text of a refusal in err (a dial refused by Dialer, as
// net/http wraps it), and whether err is one.
func Reason(err error) (string, bool) {
	if !errors.Is(err, ErrRefusedAddress) {
		return "", false
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return "refused: " + oe.Err.Error(), true
	}
	return "refused: " + err.Error(), true
}
