package auth

import (
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"time"
)

// DefaultLeeway is the clock skew tolerated on exp, nbf and iat when
// Config.Leeway is zero.
const DefaultLeeway = 30 * time.Second

// DefaultMaxTokenBytes is the longest token accepted when
// Config.MaxTokenBytes is zero.
const DefaultMaxTokenBytes = 8 << 10

// MinHMACSecretLen is the shortest HMAC secret accepted (RFC 7518 3.2: at
// least the hash size).
const MinHMACSecretLen = 32

// MinRSABits is the smallest RSA modulus accepted.
const MinRSABits = 2048

// Config configures a [Verifier]. The zero value has no keys, so
// [NewVerifier] rejects it with [ErrNoKeys]; set at least one key. Every
// other field's zero value is a documented default.
//
// The algorithms a Verifier accepts are exactly those with a configured
// key: HS256 if any HMAC secret, RS256 if any RSA key, EdDSA if any Ed25519
// key. "none" is never accepted. exp is always required.
type Config struct {
	// HMACSecret verifies HS256 tokens. At least 32 bytes when set.
	HMACSecret []byte
	// RSAPublicKeys verify RS256 tokens. Each modulus must be at least 2048
	// bits. See [LoadRSAPublicKeyFiles] to read PEM files.
	RSAPublicKeys []*rsa.PublicKey
	// Ed25519PublicKeys verify EdDSA tokens. See [LoadEd25519PublicKeyFiles].
	Ed25519PublicKeys []ed25519.PublicKey
	// Keys are further keys, each with an optional id matched against the
	// token's "kid" header (see the package doc on key selection).
	Keys []Key

	// Issuer, when set, must equal the token's iss. Default: not checked.
	Issuer string
	// Audience, when set, must appear in the token's aud. Default: not
	// checked.
	Audience string
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway (30 s); a negative value means no leeway at all.
	Leeway time.Duration
	// MaxTokenBytes rejects longer tokens as malformed before parsing.
	// Default DefaultMaxTokenBytes (8 KiB).
	MaxTokenBytes int
}

// Key is one verification key. Exactly one of HMACSecret, RSA and Ed25519
// is set.
type Key struct {
	// ID is matched against the token's "kid" header. Optional.
	ID string
	// HMACSecret verifies HS256. At least 32 bytes.
	HMACSecret []byte
	// RSA verifies RS256. At least 2048 bits.
	RSA *rsa.PublicKey
	// Ed25519 verifies EdDSA.
	Ed25519 ed25519.PublicKey
}

// Algorithm names as they appear in the JWT "alg" header.
const (
	AlgHS256 = "HS256"
	AlgRS256 = "RS256"
	AlgEdDSA = "EdDSA"
)

// alg returns the algorithm this key verifies, or an error if the key is
// empty, has several kinds set, or is too weak.
func (k Key) alg() (string, error) {
	n := 0
	var alg string
	if k.HMACSecret != nil {
		n++
		alg = AlgHS256
		if len(k.HMACSecret) < MinHMACSecretLen {
			return "", fmt.Errorf("HMAC secret is %d bytes; use at least %d", len(k.HMACSecret), MinHMACSecretLen)
		}
	}
	if k.RSA != nil {
		n++
		alg = AlgRS256
		if k.RSA.N == nil || k.RSA.N.BitLen() < MinRSABits {
			bits := 0
			if k.RSA.N != nil {
				bits = k.RSA.N.BitLen()
			}
			return "", fmt.Errorf("RSA key is %d bits; use at least %d", bits, MinRSABits)
		}
	}
	if k.Ed25519 != nil {
		n++
		alg = AlgEdDSA
		if len(k.Ed25519) != ed25519.PublicKeySize {
			return "", fmt.Errorf("Ed25519 public key is %d bytes, want %d", len(k.Ed25519), ed25519.PublicKeySize)
		}
	}
	switch n {
	case 0:
		return "", errors.New("key has no material")
	case 1:
		return alg, nil
	default:
		return "", errors.New("key has more than one kind of material")
	}
}

// allKeys lists every configured key, the flat fields first.
func (c *Config) allKeys() []Key {
	var keys []Key
	if c.HMACSecret != nil {
		keys = append(keys, Key{HMACSecret: c.HMACSecret})
	}
	for _, k := range c.RSAPublicKeys {
		keys = append(keys, Key{RSA: k})
	}
	for _, k := range c.Ed25519PublicKeys {
		keys = append(keys, Key{Ed25519: k})
	}
	return append(keys, c.Keys...)
}

// Validate reports every problem with the configuration, joined.
func (c *Config) Validate() error {
	var errs []error
	keys := c.allKeys()
	if len(keys) == 0 {
		errs = append(errs, ErrNoKeys)
	}
	for i, k := range keys {
		if _, err := k.alg(); err != nil {
			errs = append(errs, fmt.Errorf("auth: key %d: %w", i, err))
		}
	}
	if c.MaxTokenBytes < 0 {
		errs = append(errs, fmt.Errorf("auth: MaxTokenBytes is negative (%d)", c.MaxTokenBytes))
	}
	return errors.Join(errs...)
}

func (c *Config) leeway() time.Duration {
	switch {
	case c.Leeway == 0:
		return DefaultLeeway
	case c.Leeway < 0:
		return 0
	}
	return c.Leeway
}

func (c *Config) maxTokenBytes() int {
	if c.MaxTokenBytes == 0 {
		return DefaultMaxTokenBytes
	}
	return c.MaxTokenBytes
}
