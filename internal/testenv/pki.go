package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throwaway certificate authority for TLS tests: its certificate and a client
// certificate it signed are PEM files in the test's temporary directory, valid for an
// hour either side of now.
type PKI struct {
	CA     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	dir    string
	CAFile string // the CA's certificate
	// ClientCert and ClientKey are a client certificate (CN "eventrouter") and its key.
	ClientCert, ClientKey string
}

// NewPKI makes a CA and a client certificate for one test.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	p := &PKI{dir: t.TempDir(), caKey: pkiKey(t)}
	tmpl := &x509.Certificate{
		SerialNumber:          pkiSerial(t),
		Subject:               pkix.Name{CommonName: "eventrouter test CA"},
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
	if p.CA, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.CAFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	p.ClientCert, p.ClientKey = p.LeafFiles(t, "client", "eventrouter", x509.ExtKeyUsageClientAuth)
	return p
}

// Leaf issues a certificate for name (an IP address or a DNS name, which it also
// names as subject alternative name) for usage, signed by the CA.
func (p *PKI) Leaf(t testing.TB, name string, usage x509.ExtKeyUsage) tls.Certificate {
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
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// LeafFiles writes a Leaf and its key as <file>.pem and <file>-key.pem.
func (p *PKI) LeafFiles(t testing.TB, file, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	cert := p.Leaf(t, name, usage)
	keyDER, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, file+".pem", "CERTIFICATE", cert.Certificate[0]), p.write(t, file+"-key.pem", "EC PRIVATE KEY", keyDER)
}

// ServerTLS is a listener configuration with a certificate for host (an IP address or a
// DNS name); requireClient demands a client certificate signed by the CA.
func (p *PKI) ServerTLS(t testing.TB, host string, requireClient bool) *tls.Config {
	t.Helper()
	tc := &tls.Config{Certificates: []tls.Certificate{p.Leaf(t, host, x509.ExtKeyUsageServerAuth)}, MinVersion: tls.VersionTLS12}
	if requireClient {
		pool := x509.NewCertPool()
		pool.AddCert(p.CA)
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc
}

func (p *PKI) write(t testing.TB, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pkiKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pkiSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
