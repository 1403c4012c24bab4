package auth

import (
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// sign makes a token with arbitrary header additions and claims.
func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func baseClaims(mod func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"sub":   "alice",
		"exp":   now.Add(time.Hour).Unix(),
		"iat":   now.Unix(),
		"convs": []string{"dm:{sub}:*", "group:g1"},
		"rooms": []string{"room:*"},
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func allAlgVerifier(t testing.TB, mod func(*Config)) *Verifier {
	t.Helper()
	k := testKeys(t)
	cfg := Config{
		HMACSecret:        k.hmac,
		RSAPublicKeys:     []*rsa.PublicKey{&k.rsa.PublicKey},
		Ed25519PublicKeys: []ed25519.PublicKey{k.ed.Public().(ed25519.PublicKey)},
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func TestVerify(t *testing.T) {
	k := testKeys(t)
	now := time.Now()
	del := func(name string) func(jwt.MapClaims) { return func(c jwt.MapClaims) { delete(c, name) } }
	set := func(name string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[name] = v } }
	noneTok := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", baseClaims(nil))
	tests := []struct {
		name    string
		tok     string
		cfg     func(*Config)
		wantErr error
	}{
		{"HS256", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(nil)), nil, nil},
		{"RS256", sign(t, jwt.SigningMethodRS256, k.rsa, "", baseClaims(nil)), nil, nil},
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, k.ed, "", baseClaims(nil)), nil, nil},
		{"expired", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("exp", now.Add(-2*time.Minute).Unix()))), nil, ErrExpired},
		{"expired within leeway", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("exp", now.Add(-10*time.Second).Unix()))), nil, nil},
		{"expired no leeway", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("exp", now.Add(-2*time.Second).Unix()))), func(c *Config) { c.Leeway = -1 }, ErrExpired},
		{"nbf future", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("nbf", now.Add(5*time.Minute).Unix()))), nil, ErrNotYetValid},
		{"nbf past", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("nbf", now.Add(-5*time.Minute).Unix()))), nil, nil},
		{"iat future", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("iat", now.Add(5*time.Minute).Unix()))), nil, ErrNotYetValid},
		{"missing exp", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(del("exp"))), nil, ErrBadClaims},
		{"missing sub", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(del("sub"))), nil, ErrBadClaims},
		{"invalid sub", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("sub", "a b"))), nil, ErrBadClaims},
		{"sub wrong type", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("sub", 42))), nil, ErrMalformed},
		{"invalid device", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("device", "ph one"))), nil, ErrBadClaims},
		{"invalid pattern", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("convs", []string{"a***"}))), nil, ErrBadClaims},
		{"bad HMAC signature", sign(t, jwt.SigningMethodHS256, k.hmac2, "", baseClaims(nil)), nil, ErrBadSignature},
		{"bad RSA signature", sign(t, jwt.SigningMethodRS256, k.rsa2, "", baseClaims(nil)), nil, ErrBadSignature},
		{"bad EdDSA signature", sign(t, jwt.SigningMethodEdDSA, k.ed2, "", baseClaims(nil)), nil, ErrBadSignature},
		{"alg confusion, RSA only", sign(t, jwt.SigningMethodHS256, k.rsaPEM, "", baseClaims(nil)),
			func(c *Config) { c.HMACSecret = nil; c.Ed25519PublicKeys = nil }, ErrBadSignature},
		{"alg confusion, RSA and HMAC", sign(t, jwt.SigningMethodHS256, k.rsaPEM, "", baseClaims(nil)), nil, ErrBadSignature},
		{"alg confusion, Ed25519 PEM", sign(t, jwt.SigningMethodHS256, k.edPEM, "", baseClaims(nil)), nil, ErrBadSignature},
		{"alg none", noneTok, nil, ErrBadSignature},
		{"alg none, HMAC only", noneTok, func(c *Config) { c.RSAPublicKeys = nil; c.Ed25519PublicKeys = nil }, ErrBadSignature},
		{"alg without key", sign(t, jwt.SigningMethodEdDSA, k.ed, "", baseClaims(nil)), func(c *Config) { c.Ed25519PublicKeys = nil }, ErrBadSignature},
		{"RS384 not allowed", sign(t, jwt.SigningMethodRS384, k.rsa, "", baseClaims(nil)), nil, ErrBadSignature},
		{"issuer ok", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("iss", "app"))), func(c *Config) { c.Issuer = "app" }, nil},
		{"issuer wrong", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("iss", "other"))), func(c *Config) { c.Issuer = "app" }, ErrBadClaims},
		{"issuer missing", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(nil)), func(c *Config) { c.Issuer = "app" }, ErrBadClaims},
		{"audience ok", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("aud", []string{"x", "edge"}))), func(c *Config) { c.Audience = "edge" }, nil},
		{"audience wrong", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(set("aud", "web"))), func(c *Config) { c.Audience = "edge" }, ErrBadClaims},
		{"empty", "", nil, ErrNoToken},
		{"garbage", "not a token", nil, ErrMalformed},
		{"three dots", "a.b.c", nil, ErrMalformed},
		{"too long", strings.Repeat("a", DefaultMaxTokenBytes+1), nil, ErrMalformed},
		{"truncated", sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(nil))[:40], nil, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := allAlgVerifier(t, tc.cfg)
			c, err := v.Verify(tc.tok)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.Subject != "alice" {
					t.Fatalf("Subject = %q", c.Subject)
				}
				if c.ExpiresAt.IsZero() {
					t.Fatal("ExpiresAt not set")
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify err = %v, want %v", err, tc.wantErr)
			}
			if c != nil {
				t.Fatal("claims returned with an error")
			}
		})
	}
}

func TestVerifyClaimsContent(t *testing.T) {
	k := testKeys(t)
	v := allAlgVerifier(t, nil)
	tok := sign(t, jwt.SigningMethodHS256, k.hmac, "", baseClaims(func(c jwt.MapClaims) {
		c["device"] = "phone-1"
		c["convs"] = []string{"dm:{sub}:bob", "group:*", "dm:alice:bob", "group:g1"}
	}))
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Device != "phone-1" {
		t.Errorf("Device = %q", c.Device)
	}
	if got := strings.Join(c.ExactConversations(), ","); got != "dm:alice:bob,group:g1" {
		t.Errorf("ExactConversations = %q", got)
	}
	if !c.CanConversation("group:zzz") || c.CanConversation("dm:bob:carol") {
		t.Error("conversation permissions wrong")
	}
	if !c.CanRoom("room:launch") || c.CanRoom("stage:x") {
		t.Error("room permissions wrong")
	}
	if got := c.ExactRooms(); len(got) != 0 {
		t.Errorf("ExactRooms = %v", got)
	}
	// The returned slice is a copy.
	c.ExactConversations()[0] = "x"
	if c.ExactConversations()[0] != "dm:alice:bob" {
		t.Error("ExactConversations exposes internal state")
	}
}

func TestVerifyKeyIDs(t *testing.T) {
	k := testKeys(t)
	v, err := NewVerifier(Config{Keys: []Key{
		{ID: "k1", HMACSecret: k.hmac},
		{ID: "k2", HMACSecret: k.hmac2},
		{ID: "r1", RSA: &k.rsa.PublicKey},
		{RSA: &k.rsa2.PublicKey},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tok  string
		ok   bool
	}{
		{"kid k2 matches", sign(t, jwt.SigningMethodHS256, k.hmac2, "k2", baseClaims(nil)), true},
		{"kid k1 but signed by k2", sign(t, jwt.SigningMethodHS256, k.hmac2, "k1", baseClaims(nil)), false},
		{"no kid tries all", sign(t, jwt.SigningMethodHS256, k.hmac2, "", baseClaims(nil)), true},
		{"unknown kid tries all", sign(t, jwt.SigningMethodHS256, k.hmac, "zz", baseClaims(nil)), true},
		{"kid of other alg", sign(t, jwt.SigningMethodRS256, k.rsa2, "k1", baseClaims(nil)), true},
		{"second RSA key", sign(t, jwt.SigningMethodRS256, k.rsa2, "", baseClaims(nil)), true},
		{"kid r1 but signed by rsa2", sign(t, jwt.SigningMethodRS256, k.rsa2, "r1", baseClaims(nil)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(tc.tok)
			if tc.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify err = %v, want ErrBadSignature", err)
			}
		})
	}
	if got := strings.Join(v.Algorithms(), ","); got != "HS256,RS256" {
		t.Errorf("Algorithms = %q", got)
	}
}

func TestConfigValidate(t *testing.T) {
	k := testKeys(t)
	small := &rsa.PublicKey{N: new(big.Int).Rsh(k.rsa.N, 1100), E: k.rsa.E} // ~948 bits
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"zero", Config{}, true},
		{"hmac", Config{HMACSecret: k.hmac}, false},
		{"short hmac", Config{HMACSecret: []byte("short")}, true},
		{"small RSA", Config{RSAPublicKeys: []*rsa.PublicKey{small}}, true},
		{"nil RSA", Config{RSAPublicKeys: []*rsa.PublicKey{nil}}, true},
		{"bad ed25519", Config{Ed25519PublicKeys: []ed25519.PublicKey{make([]byte, 5)}}, true},
		{"key with two kinds", Config{Keys: []Key{{HMACSecret: k.hmac, RSA: &k.rsa.PublicKey}}}, true},
		{"empty key", Config{Keys: []Key{{ID: "x"}}}, true},
		{"negative max", Config{HMACSecret: k.hmac, MaxTokenBytes: -1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err != nil) != tc.wantErr {
				t.Fatalf("Validate = %v, wantErr %v", err, tc.wantErr)
			}
			_, nerr := NewVerifier(tc.cfg)
			if (nerr != nil) != tc.wantErr {
				t.Fatalf("NewVerifier err = %v", nerr)
			}
		})
	}
	if _, err := NewVerifier(Config{}); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("zero config err = %v, want ErrNoKeys", err)
	}
}

func TestLoadPEMFiles(t *testing.T) {
	k := testKeys(t)
	dir := t.TempDir()
	rp := filepath.Join(dir, "rsa.pem")
	ep := filepath.Join(dir, "ed.pem")
	bad := filepath.Join(dir, "bad.pem")
	for p, data := range map[string][]byte{rp: k.rsaPEM, ep: k.edPEM, bad: []byte("nope")} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rk, err := LoadRSAPublicKeyFiles(rp)
	if err != nil || len(rk) != 1 || rk[0].N.Cmp(k.rsa.N) != 0 {
		t.Fatalf("LoadRSAPublicKeyFiles = %v, %v", rk, err)
	}
	ek, err := LoadEd25519PublicKeyFiles(ep)
	if err != nil || len(ek) != 1 || !ek[0].Equal(k.ed.Public()) {
		t.Fatalf("LoadEd25519PublicKeyFiles = %v, %v", ek, err)
	}
	if _, err := LoadRSAPublicKeyFiles(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad RSA file err = %v", err)
	}
	if _, err := LoadRSAPublicKeyFiles(ep); err == nil {
		t.Error("Ed25519 PEM accepted as RSA")
	}
	if _, err := LoadEd25519PublicKeyFiles(rp); err == nil {
		t.Error("RSA PEM accepted as Ed25519")
	}
	if _, err := LoadEd25519PublicKeyFiles(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
	// Loaded keys verify tokens.
	v, err := NewVerifier(Config{RSAPublicKeys: rk, Ed25519PublicKeys: ek})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodEdDSA, k.ed, "", baseClaims(nil))); err != nil {
		t.Fatal(err)
	}
}

func TestMintHS256(t *testing.T) {
	k := testKeys(t)
	v := allAlgVerifier(t, func(c *Config) { c.Issuer = "dev"; c.Audience = "edge" })
	tok, err := MintHS256(k.hmac, MintClaims{Subject: "bob", Convs: []string{"group:1"}, Rooms: []string{"*"}, Device: "d1", TTL: time.Minute, Issuer: "dev", Audience: "edge"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "bob" || c.Device != "d1" || !c.CanRoom("anything:at:all") || !c.CanConversation("group:1") {
		t.Fatalf("claims = %+v", c)
	}
	if d := time.Until(c.ExpiresAt); d <= 0 || d > time.Minute {
		t.Errorf("exp in %v, want about 1m", d)
	}
	// Default TTL.
	tok, err = MintHS256(k.hmac, MintClaims{Subject: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	c, err = allAlgVerifier(t, nil).Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(c.ExpiresAt); d < DefaultMintTTL-time.Minute || d > DefaultMintTTL {
		t.Errorf("default exp in %v", d)
	}
	// Negative TTL gives an expired token.
	tok, _ = MintHS256(k.hmac, MintClaims{Subject: "bob", TTL: -time.Hour})
	if _, err := allAlgVerifier(t, nil).Verify(tok); !errors.Is(err, ErrExpired) {
		t.Errorf("negative TTL err = %v", err)
	}
	for _, mc := range []MintClaims{{}, {Subject: "a b"}, {Subject: "a", Device: "x y"}} {
		if _, err := MintHS256(k.hmac, mc); err == nil {
			t.Errorf("MintHS256(%+v) succeeded", mc)
		}
	}
	if _, err := MintHS256(nil, MintClaims{Subject: "a"}); err == nil {
		t.Error("empty secret accepted")
	}
}

func BenchmarkVerify(b *testing.B) {
	k := testKeys(b)
	v := allAlgVerifier(b, nil)
	for _, bc := range []struct {
		name   string
		method jwt.SigningMethod
		key    any
	}{
		{"HS256", jwt.SigningMethodHS256, k.hmac},
		{"RS256", jwt.SigningMethodRS256, k.rsa},
		{"EdDSA", jwt.SigningMethodEdDSA, k.ed},
	} {
		tok := sign(b, bc.method, bc.key, "", baseClaims(nil))
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
