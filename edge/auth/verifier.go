package auth

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Verifier verifies client JWTs. It is immutable after [NewVerifier] and
// safe for concurrent use.
type Verifier struct {
	parser *jwt.Parser
	byAlg  map[string][]verKey
	maxLen int
}

// verKey is a key in the form jwt's signing methods expect.
type verKey struct {
	id  string
	key any // []byte, *rsa.PublicKey or ed25519.PublicKey
}

// NewVerifier checks cfg and builds a Verifier. It returns an error wrapping
// [ErrNoKeys] when no key is configured.
func NewVerifier(cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{byAlg: make(map[string][]verKey), maxLen: cfg.maxTokenBytes()}
	for _, k := range cfg.allKeys() {
		alg, _ := k.alg() // checked by Validate
		var material any
		switch alg {
		case AlgHS256:
			material = append([]byte(nil), k.HMACSecret...)
		case AlgRS256:
			material = k.RSA
		case AlgEdDSA:
			material = append(ed25519.PublicKey(nil), k.Ed25519...)
		}
		v.byAlg[alg] = append(v.byAlg[alg], verKey{id: k.ID, key: material})
	}
	methods := make([]string, 0, len(v.byAlg))
	for _, alg := range []string{AlgHS256, AlgRS256, AlgEdDSA} {
		if len(v.byAlg[alg]) > 0 {
			methods = append(methods, alg)
		}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.leeway()),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Algorithms lists the algorithms this verifier accepts.
func (v *Verifier) Algorithms() []string {
	var out []string
	for _, alg := range []string{AlgHS256, AlgRS256, AlgEdDSA} {
		if len(v.byAlg[alg]) > 0 {
			out = append(out, alg)
		}
	}
	return out
}

// Verify checks the token's signature and claims and returns its claims
// with permission patterns compiled. Errors wrap one of [ErrNoToken],
// [ErrMalformed], [ErrExpired], [ErrNotYetValid], [ErrBadSignature] or
// [ErrBadClaims].
func (v *Verifier) Verify(token string) (*Claims, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	if len(token) > v.maxLen {
		return nil, fmt.Errorf("%w: token is %d bytes, max %d", ErrMalformed, len(token), v.maxLen)
	}
	var wc wireClaims
	if _, err := v.parser.ParseWithClaims(token, &wc, v.keyFunc); err != nil {
		return nil, classify(err)
	}
	return newClaims(&wc)
}

// keyFunc picks the candidate keys for the token's algorithm. The parser
// has already rejected algorithms without keys (WithValidMethods); the
// lookup is by algorithm, so an HMAC token is only ever checked against
// HMAC secrets, never against public key bytes.
func (v *Verifier) keyFunc(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	keys := v.byAlg[alg]
	if len(keys) == 0 {
		return nil, fmt.Errorf("no key for algorithm %q", alg)
	}
	if kid, ok := t.Header["kid"].(string); ok && kid != "" {
		for _, k := range keys {
			if k.id == kid {
				return k.key, nil
			}
		}
	}
	if len(keys) == 1 {
		return keys[0].key, nil
	}
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k.key
	}
	return set, nil
}

// classify maps a jwt error to this package's sentinels, keeping the
// original text for logs.
func classify(err error) error {
	var kind error
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		kind = ErrMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		kind = ErrBadSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing),
		errors.Is(err, jwt.ErrTokenInvalidIssuer),
		errors.Is(err, jwt.ErrTokenInvalidAudience):
		kind = ErrBadClaims
	case errors.Is(err, jwt.ErrTokenExpired):
		kind = ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		kind = ErrNotYetValid
	default:
		kind = ErrBadClaims
	}
	return fmt.Errorf("%w (%v)", kind, err)
}
