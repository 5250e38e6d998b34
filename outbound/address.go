package outbound

import (
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// refusedRanges are the ranges no public receiver lives in, with what to
// call them, beyond those netip's predicates name (loopback, private,
// link-local, unspecified, multicast; see Refused). The first that holds
// an address names it. Sources: the IANA IPv4 and IPv6 Special-Purpose
// Address Registries.
var refusedRanges = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "reserved"},         // "this network"
	{netip.MustParsePrefix("100.64.0.0/10"), "reserved"},     // carrier-grade NAT
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},      // IETF protocol assignments
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"}, // TEST-NET-1
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay"}, // deprecated anycast relays into IPv6
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},      // and the broadcast address

	// IPv6 ranges that carry an IPv4 address in their bits, and can reach
	// it (a private one too) through a translator or relay. Refused whole:
	// no public receiver is addressed so.
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},           // ::127.0.0.1 (deprecated)
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated"}, // ::ffff:0:7f00:1
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},              // well-known prefix
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64"},            // local-use prefix
	{netip.MustParsePrefix("2002::/16"), "6to4"},                  // 2002:7f00:1::
	{netip.MustParsePrefix("2001::/32"), "Teredo"},                // in 2001::/23, named first
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking"},        // in 2001::/23, named first
	{netip.MustParsePrefix("2001::/23"), "reserved"},              // IETF protocol assignments, ORCHID 2001:10::/28 among them
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"}, // RFC 9637
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"}, // deprecated
	{netip.MustParsePrefix("2000::/3"), ""},            // global unicast: what is left is allowed
	{netip.MustParsePrefix("::/0"), "reserved"},        // every other IPv6 address
	{netip.MustParsePrefix("0.0.0.0/0"), ""},           // every other IPv4 address is public
}

// Refused says why addr may not be sent to ("" when it may). It is the one
// classifier of addresses: a URL check (CheckHost) asks it about a URL's
// literal address, and the dialer about every address a name resolves to.
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged as its IPv4
// address, which is what is dialled.
func Refused(addr netip.Addr) string {
	addr = addr.Unmap().WithZone("")
	switch {
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate():
		return "private"
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		return "link-local"
	case addr.IsUnspecified():
		return "unspecified"
	case addr.IsMulticast(), addr.IsInterfaceLocalMulticast():
		return "multicast"
	case !addr.IsValid():
		return "invalid"
	}
	for _, r := range refusedRanges {
		if r.prefix.Contains(addr) {
			return r.why
		}
	}
	return ""
}

// ASCIIHost is host as net/http dials it: a name that is not ASCII goes
// through IDNA's lookup mapping first, which makes full-width and circled
// digits and ideographic full stops ASCII ("１２７。０。０。１" is
// "127.0.0.1"). A host the mapping refuses is left as it is.
func ASCIIHost(host string) string {
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			if a, err := idna.Lookup.ToASCII(host); err == nil {
				return a
			}
			return host
		}
	}
	return host
}

// HostAddr is the address a URL's host names, read as the system's
// resolver would (getaddrinfo, through glibc's inet_aton for IPv4), and
// whether it names one: "127.1", "2130706433", "0x7f000001", "0177.0.0.1"
// and "127.000.000.001" are all 127.0.0.1, though netip parses none of
// them. host is a URL's Hostname (an IPv6 address without its brackets),
// made ASCII (ASCIIHost) and without the trailing dot of a fully qualified
// name.
func HostAddr(host string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, true
	}
	return parseInetAton(host)
}

// parseInetAton parses an IPv4 address as glibc's inet_aton does: one to
// four parts separated by dots, each decimal, octal (a leading 0) or
// hexadecimal (a leading 0x, digits optional); every part but the last is
// one byte, and the last fills the bytes that remain ("127.1" is
// 127.0.0.1, "2130706433" 127.0.0.1). Trailing whitespace, which
// inet_aton allows, cannot occur in a URL's host.
func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := parseInetAtonPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for _, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n = n<<8 | v
	}
	restBits := 8 * (5 - len(vals)) // the last part fills the rest
	last := vals[len(vals)-1]
	if last >= 1<<restBits {
		return netip.Addr{}, false
	}
	n = n<<restBits | last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// parseInetAtonPart is one part of parseInetAton, at most 32 bits.
func parseInetAtonPart(p string) (uint64, bool) {
	if p == "" || p[0] < '0' || p[0] > '9' {
		return 0, false
	}
	base, digits := uint64(10), p
	switch {
	case len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
		base, digits = 16, p[2:] // "0x" alone is 0, as inet_aton has it
	case p[0] == '0':
		base = 8
	}
	var v uint64
	for _, c := range []byte(digits) {
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case base == 16 && 'a' <= c|0x20 && c|0x20 <= 'f':
			d = uint64(c|0x20-'a') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		if v = v*base + d; v > 0xffffffff {
			return 0, false
		}
	}
	return v, true
}
