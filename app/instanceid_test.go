package app

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/testenv"
)

func TestMemberInstanceIDDefaultsAreStableAndUniquePerProcess(t *testing.T) {
	host := func() string { return "sender-7d9f.pod" }
	def := config.Default().Kafka
	dynamic := def
	dynamic.StaticMembership = false
	explicit := def
	explicit.InstanceID = "pod-3"
	cases := []struct {
		name      string
		k         config.Kafka
		ops, role string
		want      string
	}{
		{"default: host and role", def, ":9090", "sender", "sender-7d9f.pod-sender"},
		{"all: router and sender differ", def, ":9090", "router", "sender-7d9f.pod-router"},
		{"second process on the host: its ops port", def, "127.0.0.1:9191", "sender", "sender-7d9f.pod-sender-9191"},
		{"ephemeral ops port: no stable identity", def, "127.0.0.1:0", "sender", ""},
		{"explicit id wins", explicit, ":9191", "sender", "pod-3"},
		{"opted out", dynamic, ":9090", "sender", ""},
	}
	for _, c := range cases {
		if got := memberInstanceID(c.k, c.ops, c.role, host); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if got := memberInstanceID(def, ":9090", "sender", func() string { return "my host/1" }); got != "my_host_1-sender" {
		t.Errorf("host name with illegal characters: %q, want my_host_1-sender", got)
	}
}

// TestGracefulStopOfAStaticSenderHandsItsPartitionsOver: a static member's client does
// not leave its group on close, so without an explicit leave a sender stopped by
// SIGTERM would hold its partitions for the session timeout (45 s). With two static
// senders, stopping one must give the other every partition well before that.
func TestGracefulStopOfAStaticSenderHandsItsPartitionsOver(t *testing.T) {
	e, _ := kfakeReadinessEnv(t)
	a, b := e.cfg, e.cfg
	a.Kafka.InstanceID, b.Kafka.InstanceID = "sender-a", "sender-b"
	ha, stopA := e.startRoles(t, a, Roles{Sender: true})
	hb := e.runRoles(t, b, Roles{Sender: true})
	waitReadyz(t, ha, http.StatusOK, 60*time.Second)
	waitReadyz(t, hb, http.StatusOK, 60*time.Second)
	adm := e.admin(t)
	total := (1 + len(e.cfg.Delivery.RetrySchedule)) * 2 // deliveries and each tier, 2 partitions each on kfake
	if n := ownedBy(t, adm, e.cfg.Delivery.Group, "sender-b"); n == 0 || n == total {
		t.Fatalf("before the stop sender-b owns %d of %d partitions, want a share", n, total)
	}
	stopA()
	testenv.Eventually(t, 15*time.Second, fmt.Sprintf("sender-b to own all %d partitions after a graceful stop of sender-a (else sender-a did not leave its group)", total),
		func() bool { return ownedBy(t, adm, e.cfg.Delivery.Group, "sender-b") == total })
}

// ownedBy counts the partitions the member with instanceID is assigned in a Stable
// group (0 while it rebalances).
func ownedBy(t *testing.T, adm *kadm.Client, group, instanceID string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	g := described[group]
	if g.State != "Stable" {
		return 0
	}
	for _, m := range g.Members {
		if m.InstanceID == nil || *m.InstanceID != instanceID {
			continue
		}
		return assignedCount(m)
	}
	return 0
}
