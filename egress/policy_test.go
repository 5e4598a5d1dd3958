package egress

import (
	"net/netip"
	"strings"
	"testing"
)

// The write-time checks and the dial-time guard are one policy: for every port and for
// addresses of every class they give the same answer.
func TestWriteTimeAndDialTimeAgree(t *testing.T) {
	p := Policy{AllowPorts: []int{8443, 443}, AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	g := p.Guardian()
	public := netip.MustParseAddr("93.184.216.34")
	for port := 1; port <= 65535; port++ {
		write := p.CheckPort(port) == nil
		dial := g.SafeAddrPort(netip.AddrPortFrom(public, uint16(port))) == nil
		if write != dial {
			t.Fatalf("port %d: write-time allowed=%v, dial-time allowed=%v", port, write, dial)
		}
	}
	for _, a := range []string{"93.184.216.34", "127.0.0.1", "10.1.2.3", "10.2.0.1", "169.254.169.254", "100.64.0.1",
		"0.0.0.0", "224.0.0.1", "2606:4700::1", "::1", "fd00::1", "fe80::1", "2001:db8::1"} {
		addr := netip.MustParseAddr(a)
		write := p.CheckAddr(addr) == nil
		dial := g.Safe("tcp", netip.AddrPortFrom(addr, 443).String(), nil) == nil ||
			g.Safe("tcp4", netip.AddrPortFrom(addr, 443).String(), nil) == nil && addr.Is4() ||
			g.Safe("tcp6", netip.AddrPortFrom(addr, 443).String(), nil) == nil && addr.Is6()
		if write != dial {
			t.Errorf("%s: write-time allowed=%v, dial-time allowed=%v", a, write, dial)
		}
	}
}

func TestCheckPortMessageListsExactlyTheAllowedPorts(t *testing.T) {
	err := Policy{AllowPorts: []int{9000, 443, 8443, 9000}}.CheckPort(8080)
	if err == nil {
		t.Fatal("8080 allowed")
	}
	if want := "port not allowed: 8080 (allowed: 80, 443, 8443, 9000;"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want prefix %q", err, want)
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	if err := (Policy{AllowPorts: []int{0}}).Validate(); err == nil || !strings.Contains(err.Error(), "egress.allow_ports[0]") {
		t.Errorf("err = %v", err)
	}
	if err := (Policy{AllowCIDRs: []netip.Prefix{{}}}).Validate(); err == nil || !strings.Contains(err.Error(), "egress.allow_cidrs[0]") {
		t.Errorf("err = %v", err)
	}
}
