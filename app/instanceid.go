package app

import (
	"net"
	"os"
	"strings"

	"github.com/claimable/eventrouter/config"
)

// defaultOpsPort is ops.listen's default port; ids of processes listening on it carry
// no port suffix.
const defaultOpsPort = "9090"

// memberInstanceID is the static group member id of role ("router" or "sender"), or ""
// for a dynamic member. kafka.instance_id wins when set. Otherwise, with
// kafka.static_membership (the default), it is derived so that it is stable across
// restarts and unique per live process of a role:
//
//   - the host name (HOSTNAME, else the kernel's): a pod or container name, kept by a
//     restart of the same pod or container;
//   - the role, so that `eventrouter all` (router and sender) has one id per group;
//   - the ops.listen port when it is not 9090: two processes on one host cannot both
//     listen on one port (Run binds it before joining any group), so a second sender
//     on a laptop, or `all` beside a separate `sender`, gets an id of its own.
//
// With ops.listen port 0 the process has no stable address and so no stable identity:
// it is a dynamic member unless kafka.instance_id is set.
func memberInstanceID(k config.Kafka, opsListen, role string, host func() string) string {
	if k.InstanceID != "" {
		return k.InstanceID
	}
	if !k.StaticMembership {
		return ""
	}
	_, port, err := net.SplitHostPort(opsListen)
	if err != nil || port == "" || port == "0" {
		return ""
	}
	h := sanitizeID(host())
	if h == "" {
		return ""
	}
	id := h + "-" + role
	if port != defaultOpsPort {
		id += "-" + port
	}
	return id
}

// hostName is HOSTNAME (set by Kubernetes and Docker to the pod or container name),
// else the kernel's host name.
func hostName() string {
	if h := os.Getenv("HOSTNAME"); h != "" {
		return h
	}
	h, _ := os.Hostname()
	return h
}

// sanitizeID keeps the characters Kafka accepts in a group instance id (letters,
// digits, '.', '_', '-'), replacing the others with '_', and bounds the length.
func sanitizeID(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
