package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/config"
)

// ping connects as cfg says and returns PING's error, bounded by a few seconds.
func ping(t *testing.T, cfg config.Redis) error {
	t.Helper()
	c, err := app.NewRedis(cfg)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

func TestNewRedisACLUser(t *testing.T) {
	srv := miniredis.RunT(t)
	srv.RequireUserAuth("er-user", "right-pass")

	cfg := config.Redis{Addr: srv.Addr(), Username: "er-user", Password: "right-pass"}
	if err := ping(t, cfg); err != nil {
		t.Fatalf("right credentials: %v", err)
	}
	cfg.Password = "wrong-pass"
	if err := ping(t, cfg); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password: got %v, want WRONGPASS", err)
	}
	if err := ping(t, config.Redis{Addr: srv.Addr()}); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("no credentials: got %v, want NOAUTH", err)
	}
}

func TestNewRedisPasswordOnly(t *testing.T) {
	// requirepass without ACL users: redis.password alone, no username.
	srv := miniredis.RunT(t)
	srv.RequireAuth("only-pass")
	if err := ping(t, config.Redis{Addr: srv.Addr(), Password: "only-pass"}); err != nil {
		t.Fatalf("password only: %v", err)
	}
}

func TestNewRedisDB(t *testing.T) {
	srv := miniredis.RunT(t)
	c, err := app.NewRedis(config.Redis{Addr: srv.Addr(), DB: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := srv.DB(3).Keys(); len(got) != 1 || got[0] != "k" {
		t.Errorf("redis.db 3: keys in DB 3 are %q, want [k]", got)
	}
	if got := srv.DB(0).Keys(); len(got) != 0 {
		t.Errorf("redis.db 3: DB 0 holds %q", got)
	}
}

func TestNewRedisTLS(t *testing.T) {
	p := newRedisPKI(t)
	srv := miniredis.NewMiniRedis()
	if err := srv.StartTLS(p.serverTLS(t, false)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	tlsCfg := config.TLS{Enabled: true, CAFile: p.caFile}
	if err := ping(t, config.Redis{Addr: srv.Addr(), TLS: tlsCfg}); err != nil {
		t.Fatalf("redis.tls with ca_file: %v", err)
	}
	var unknown x509.UnknownAuthorityError
	if err := ping(t, config.Redis{Addr: srv.Addr(), TLS: config.TLS{Enabled: true}}); !errors.As(err, &unknown) {
		t.Errorf("without ca_file: got %v, want an unknown-authority error", err)
	}
	if err := ping(t, config.Redis{Addr: srv.Addr()}); err == nil {
		t.Error("a plaintext client talked to a TLS-only server")
	}
}

func TestNewRedisMutualTLS(t *testing.T) {
	p := newRedisPKI(t)
	srv := miniredis.NewMiniRedis()
	if err := srv.StartTLS(p.serverTLS(t, true)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	cfg := config.Redis{Addr: srv.Addr(), TLS: config.TLS{Enabled: true, CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}}
	if err := ping(t, cfg); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	cfg.TLS.CertFile, cfg.TLS.KeyFile = "", ""
	if err := ping(t, cfg); err == nil {
		t.Error("a server requiring client certificates accepted a client without one")
	}
}

func TestNewRedisTLSFileErrorsNameTheKey(t *testing.T) {
	for _, tc := range []config.TLS{
		{Enabled: true, CAFile: "/nonexistent/ca.pem"},
		{Enabled: true, CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"},
	} {
		_, err := app.NewRedis(config.Redis{Addr: "127.0.0.1:9", TLS: tc})
		if err == nil || !strings.Contains(err.Error(), "redis.tls") {
			t.Errorf("%+v: got %v, want an error naming redis.tls", tc, err)
		}
	}
}

// redisPKI is a throwaway CA with PEM files of its certificate and of a client
// certificate it signed.
type redisPKI struct {
	ca                    *x509.Certificate
	caKey                 *ecdsa.PrivateKey
	dir                   string
	caFile                string
	clientCert, clientKey string
}

func newRedisPKI(t *testing.T) *redisPKI {
	t.Helper()
	p := &redisPKI{dir: t.TempDir(), caKey: pkiKey(t)}
	tmpl := &x509.Certificate{
		SerialNumber:          pkiSerial(t),
		Subject:               pkix.Name{CommonName: "eventrouter redis test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	p.clientCert, p.clientKey = p.leafFiles(t, "client", "eventrouter", x509.ExtKeyUsageClientAuth)
	return p
}

// serverTLS is a listener configuration for 127.0.0.1; requireClient demands a client
// certificate signed by the CA.
func (p *redisPKI) serverTLS(t *testing.T, requireClient bool) *tls.Config {
	t.Helper()
	certFile, keyFile := p.leafFiles(t, "server", "127.0.0.1", x509.ExtKeyUsageServerAuth)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if requireClient {
		pool := x509.NewCertPool()
		pool.AddCert(p.ca)
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc
}

// leafFiles writes a certificate for name (an IP or DNS name) signed by the CA, and its
// key, as <file>.pem and <file>-key.pem.
func (p *redisPKI) leafFiles(t *testing.T, file, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key := pkiKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: pkiSerial(t),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, file+".pem", "CERTIFICATE", der), p.write(t, file+"-key.pem", "EC PRIVATE KEY", keyDER)
}

func (p *redisPKI) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pkiKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pkiSerial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
