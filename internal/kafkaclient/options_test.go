package kafkaclient_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/kafkaclient"
	"github.com/claimable/eventrouter/internal/testenv"
)

const topic = "security.test"

// cluster starts a kfake cluster with one topic and returns its seed brokers.
func cluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, topic)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// kafkaConfig is the Kafka section a role would receive, pointed at seeds.
func kafkaConfig(seeds []string) config.Kafka {
	cfg := config.Default().Kafka
	cfg.Brokers = seeds
	return cfg
}

// roundTrip builds a client from kafkaclient.Options(cfg), produces one record and
// consumes it back. It returns the first error, bounded by five seconds.
func roundTrip(t *testing.T, cfg config.Kafka) error {
	t.Helper()
	return roundTripWithin(t, cfg, 5*time.Second)
}

// rejected is roundTrip for a client expected to fail (it cannot authenticate or
// verify the broker; kfake then closes the connection): it gives up sooner.
func rejected(t *testing.T, cfg config.Kafka) error {
	t.Helper()
	return roundTripWithin(t, cfg, 1500*time.Millisecond)
}

func roundTripWithin(t *testing.T, cfg config.Kafka, limit time.Duration) error {
	t.Helper()
	opts, err := kafkaclient.Options(cfg, zap.NewNop())
	if err != nil {
		t.Fatalf("Options: %v", err)
	}
	dials := &dialErrors{}
	opts = append(opts,
		kgo.WithHooks(dials),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.RequestRetries(1),
		kgo.RetryTimeout(limit),
		kgo.RecordDeliveryTimeout(limit),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	want := "hello-" + t.Name()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(want)}).FirstErr(); err != nil {
		return dials.or(err)
	}
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return dials.or(err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return errs[0].Err
		}
		for _, r := range fs.Records() {
			if string(r.Value) == want {
				return nil
			}
		}
	}
}

// dialErrors keeps the last connection error, which says more than the timeout a
// retrying client eventually reports.
type dialErrors struct {
	mu   sync.Mutex
	last error
}

func (d *dialErrors) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		d.mu.Lock()
		d.last = err
		d.mu.Unlock()
	}
}

// or returns the last connection error, else err.
func (d *dialErrors) or(err error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last != nil {
		return fmt.Errorf("%w (last connection error: %w)", err, d.last)
	}
	return err
}

func TestSASLMechanisms(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			seeds := cluster(t, kfake.EnableSASL(), kfake.Superuser(mech, "er-user", "right-pass"))

			cfg := kafkaConfig(seeds)
			cfg.SASL = config.SASL{Mechanism: mech, Username: "er-user", Password: "right-pass"}
			if err := roundTrip(t, cfg); err != nil {
				t.Fatalf("right credentials: produce+consume failed: %v", err)
			}

			// kfake closes the connection on a failed authentication (the client
			// sees EOF) rather than answering SASL_AUTHENTICATION_FAILED.
			cfg.SASL.Password = "wrong-pass"
			if err := rejected(t, cfg); err == nil {
				t.Fatal("wrong password: produce+consume succeeded")
			}
			cfg.SASL.Password, cfg.SASL.Username = "right-pass", "someone-else"
			if err := rejected(t, cfg); err == nil {
				t.Fatal("unknown user: produce+consume succeeded")
			}
		})
	}
}

func TestSASLWrongMechanismFails(t *testing.T) {
	t.Parallel()
	// The user exists for SCRAM-SHA-512 only; the same name and password over
	// SCRAM-SHA-256 must not authenticate.
	seeds := cluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "er-user", "pass"))
	cfg := kafkaConfig(seeds)
	cfg.SASL = config.SASL{Mechanism: "SCRAM-SHA-256", Username: "er-user", Password: "pass"}
	if err := rejected(t, cfg); err == nil {
		t.Fatal("SCRAM-SHA-256 authenticated a SCRAM-SHA-512-only user")
	}
}

func TestNoSASLAgainstSASLClusterFails(t *testing.T) {
	t.Parallel()
	seeds := cluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "er-user", "pass"))
	if err := rejected(t, kafkaConfig(seeds)); err == nil {
		t.Fatal("a client without SASL produced to a SASL-only cluster")
	}
}

func TestUnsupportedMechanismNamesKey(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{"GSSAPI", "OAUTHBEARER", "plain", "SCRAM-SHA-1"} {
		cfg := kafkaConfig([]string{"127.0.0.1:9"})
		cfg.SASL = config.SASL{Mechanism: mech, Username: "u", Password: "p"}
		_, err := kafkaclient.Options(cfg, zap.NewNop())
		if err == nil {
			t.Errorf("mechanism %q: no error", mech)
			continue
		}
		if !strings.Contains(err.Error(), "kafka.sasl.mechanism") || !strings.Contains(err.Error(), mech) {
			t.Errorf("mechanism %q: error %q does not name the key and value", mech, err)
		}
	}
}

func TestTLSWithCAFile(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	seeds := cluster(t, kfake.TLS(pki.ServerTLS(t, "127.0.0.1", false)))

	cfg := kafkaConfig(seeds)
	cfg.TLS = config.TLS{Enabled: true, CAFile: pki.CAFile}
	if err := roundTrip(t, cfg); err != nil {
		t.Fatalf("with kafka.tls.ca_file: %v", err)
	}

	t.Run("without ca_file the self-signed broker is rejected", func(t *testing.T) {
		cfg := kafkaConfig(seeds)
		cfg.TLS = config.TLS{Enabled: true}
		err := rejected(t, cfg)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("got %v, want an unknown-authority error", err)
		}
	})
	t.Run("another CA is rejected", func(t *testing.T) {
		cfg := kafkaConfig(seeds)
		cfg.TLS = config.TLS{Enabled: true, CAFile: testenv.NewPKI(t).CAFile}
		if err := rejected(t, cfg); err == nil {
			t.Fatal("a broker signed by a different CA was trusted")
		}
	})
	t.Run("plaintext client cannot talk to a TLS listener", func(t *testing.T) {
		if err := rejected(t, kafkaConfig(seeds)); err == nil {
			t.Fatal("a plaintext client produced to a TLS listener")
		}
	})
}

func TestTLSServerName(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	// The certificate names kafka.internal only; the client dials 127.0.0.1.
	seeds := cluster(t, kfake.TLS(pki.ServerTLS(t, "kafka.internal", false)))

	cfg := kafkaConfig(seeds)
	cfg.TLS = config.TLS{Enabled: true, CAFile: pki.CAFile}
	if err := rejected(t, cfg); err == nil {
		t.Fatal("a certificate for kafka.internal was accepted for 127.0.0.1")
	}
	cfg.TLS.ServerName = "kafka.internal"
	if err := roundTrip(t, cfg); err != nil {
		t.Fatalf("with kafka.tls.server_name: %v", err)
	}
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	seeds := cluster(t, kfake.TLS(pki.ServerTLS(t, "127.0.0.1", true)))

	cfg := kafkaConfig(seeds)
	cfg.TLS = config.TLS{Enabled: true, CAFile: pki.CAFile, CertFile: pki.ClientCert, KeyFile: pki.ClientKey}
	if err := roundTrip(t, cfg); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	cfg.TLS.CertFile, cfg.TLS.KeyFile = "", ""
	if err := rejected(t, cfg); err == nil {
		t.Fatal("a broker requiring client certificates accepted a client without one")
	}
}

func TestSASLOverTLS(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	seeds := cluster(t,
		kfake.TLS(pki.ServerTLS(t, "127.0.0.1", false)),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "er-user", "pass"))
	cfg := kafkaConfig(seeds)
	cfg.TLS = config.TLS{Enabled: true, CAFile: pki.CAFile}
	cfg.SASL = config.SASL{Mechanism: "SCRAM-SHA-512", Username: "er-user", Password: "pass"}
	if err := roundTrip(t, cfg); err != nil {
		t.Fatalf("SCRAM-SHA-512 over TLS: %v", err)
	}
}

func TestTLSFileErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tls  config.TLS
		want []string
	}{
		{"missing ca_file", config.TLS{Enabled: true, CAFile: "/nonexistent/ca.pem"}, []string{"kafka.tls", "ca_file"}},
		{"ca_file without PEM", config.TLS{Enabled: true, CAFile: notPEM}, []string{"kafka.tls", "ca_file", "no PEM"}},
		{"cert without key", config.TLS{Enabled: true, CertFile: pki.ClientCert}, []string{"kafka.tls", "cert_file/key_file"}},
		{"key without cert", config.TLS{Enabled: true, KeyFile: pki.ClientKey}, []string{"kafka.tls", "cert_file/key_file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := kafkaConfig([]string{"127.0.0.1:9"})
			cfg.TLS = c.tls
			_, err := kafkaclient.Options(cfg, zap.NewNop())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestTLSConfigMinimumVersion(t *testing.T) {
	t.Parallel()
	tc, err := kafkaclient.TLSConfig(config.TLS{Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if tc.MinVersion < tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want at least TLS 1.2", tc.MinVersion)
	}
	if tc.InsecureSkipVerify {
		t.Error("InsecureSkipVerify on by default")
	}
}
