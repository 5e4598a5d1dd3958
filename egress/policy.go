// Package egress is the one outbound-address policy of eventrouter: which endpoints the
// sender may call. The same Policy value judges a subscription's URL when it is written
// (subscriptions validation: early, friendly errors naming the field) and every
// connection the sender dials (the authoritative check, on the resolved address), so a
// URL accepted at write time is never refused at dial time for its port or a literal
// IP. It is a leaf package: subscriptions and delivery both import it, not each other.
package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"code.dny.dev/ssrf"
)

// DefaultPorts are the ports every policy allows.
var DefaultPorts = []int{80, 443}

// Policy is built from the configuration section `egress`. The zero value is the
// production default: https only, ports 80 and 443, every special-purpose address
// blocked. A Policy is a value; it is safe for concurrent use.
type Policy struct {
	// AllowHTTP permits plain http:// URLs (dev, tests); otherwise https only.
	AllowHTTP bool
	// AllowCIDRs are exempt from the special-purpose address block (e.g. 127.0.0.0/8
	// for a local receiver).
	AllowCIDRs []netip.Prefix
	// AllowPorts are allowed besides 80 and 443. The port rule is the same whatever the
	// scheme: dev mode (AllowHTTP) does not open every port.
	AllowPorts []int
}

// Validate reports the first invalid setting, naming its config key.
func (p Policy) Validate() error {
	for i, port := range p.AllowPorts {
		if port < 1 || port > 65535 {
			return fmt.Errorf("egress.allow_ports[%d]: %d is not a TCP port (1..65535)", i, port)
		}
	}
	for i, pre := range p.AllowCIDRs {
		if !pre.IsValid() {
			return fmt.Errorf("egress.allow_cidrs[%d]: not a valid prefix", i)
		}
	}
	return nil
}

// Ports lists every allowed port, ascending, without duplicates.
func (p Policy) Ports() []int {
	out := append(slices.Clone(DefaultPorts), p.AllowPorts...)
	slices.Sort(out)
	return slices.Compact(out)
}

// PortList is Ports as text for messages: "80, 443, 8443".
func (p Policy) PortList() string {
	ports := p.Ports()
	s := make([]string, len(ports))
	for i, n := range ports {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// ErrPort: the port is not allowed by the policy.
var ErrPort = errors.New("port not allowed")

// CheckPort reports whether port (from a URL, or a URL's scheme default) may be dialled.
// The error names the port and lists exactly the allowed ones.
func (p Policy) CheckPort(port int) error {
	if slices.Contains(p.Ports(), port) {
		return nil
	}
	return fmt.Errorf("%w: %d (allowed: %s; more can be listed in egress.allow_ports)", ErrPort, port, p.PortList())
}

// CheckAddr judges an IP address (a literal in a URL, or the resolved address at dial
// time) exactly as the dialer does: special-purpose ranges are refused unless inside
// AllowCIDRs. An IPv4-mapped IPv6 literal is judged as the IPv4 address it is dialled as.
func (p Policy) CheckAddr(addr netip.Addr) error {
	return p.Guardian().SafeAddr(addr.WithZone("").Unmap())
}

// AllowsLoopback reports whether AllowCIDRs opens a loopback address (then the name
// localhost is acceptable too).
func (p Policy) AllowsLoopback() bool {
	for _, pre := range p.AllowCIDRs {
		if pre.Contains(netip.MustParseAddr("127.0.0.1")) || pre.Contains(netip.IPv6Loopback()) {
			return true
		}
	}
	return false
}

// Guardian is the dial-time guard for this policy (code.dny.dev/ssrf): its Safe method
// is the net.Dialer's Control hook, run on the resolved address of every connection.
func (p Policy) Guardian() *ssrf.Guardian {
	ports := p.Ports()
	u16 := make([]uint16, 0, len(ports))
	for _, n := range ports {
		if n >= 1 && n <= 65535 {
			u16 = append(u16, uint16(n))
		}
	}
	var v4, v6 []netip.Prefix
	for _, pre := range p.AllowCIDRs {
		if pre.Addr().Is4() {
			v4 = append(v4, pre.Masked())
		} else {
			v6 = append(v6, pre.Masked())
		}
	}
	return ssrf.New(ssrf.WithPorts(u16...), ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...))
}

// DefaultPort is the port a URL with this scheme and no explicit port is dialled on.
func DefaultPort(scheme string) int {
	if scheme == "http" {
		return 80
	}
	return 443
}
