package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKeys are generated once per test binary: RSA 2048 generation is slow.
type testKeyset struct {
	hmac, hmac2 []byte
	rsa, rsa2   *rsa.PrivateKey
	ed, ed2     ed25519.PrivateKey
	rsaPEM      []byte // PKIX PEM of rsa.PublicKey
	edPEM       []byte
}

var (
	keysOnce sync.Once
	keyset   testKeyset
)

func testKeys(tb testing.TB) *testKeyset {
	tb.Helper()
	keysOnce.Do(func() {
		k := &keyset
		k.hmac = []byte("0123456789abcdef0123456789abcdef-hmac-one")
		k.hmac2 = []byte("0123456789abcdef0123456789abcdef-hmac-two")
		var err error
		if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
		if _, k.ed2, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
		if err != nil {
			panic(err)
		}
		k.rsaPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		der, err = x509.MarshalPKIXPublicKey(k.ed.Public())
		if err != nil {
			panic(err)
		}
		k.edPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	})
	return &keyset
}
