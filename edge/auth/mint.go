package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultMintTTL is the token lifetime used when MintClaims.TTL is zero.
const DefaultMintTTL = time.Hour

// MintClaims are the claims of a token made by [MintHS256].
type MintClaims struct {
	// Subject is the user id (sub). Required, a valid id.
	Subject string
	// Convs and Rooms are permission entries (ids or patterns, see the
	// package doc).
	Convs, Rooms []string
	// Device is the optional device id.
	Device string
	// TTL is the lifetime from now. Default DefaultMintTTL (1 h).
	TTL time.Duration
	// Issuer and Audience are optional iss and aud values, for verifiers
	// configured to check them.
	Issuer   string
	Audience string
}

// MintHS256 signs an HS256 client token. It is meant for dev mode, tests
// and the load generator; production tokens come from the app's backend.
func MintHS256(secret []byte, c MintClaims) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("auth: mint: empty secret")
	}
	return mint(jwt.SigningMethodHS256, secret, "", c, time.Now())
}

// mint signs c with method and key at time now, with an optional kid.
func mint(method jwt.SigningMethod, key any, kid string, c MintClaims, now time.Time) (string, error) {
	if !ValidID(c.Subject) {
		return "", fmt.Errorf("auth: mint: subject %q is not a valid id", c.Subject)
	}
	if c.Device != "" && !ValidID(c.Device) {
		return "", fmt.Errorf("auth: mint: device %q is not a valid id", c.Device)
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = DefaultMintTTL
	}
	wc := wireClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.Subject,
			Issuer:    c.Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Convs:  c.Convs,
		Rooms:  c.Rooms,
		Device: c.Device,
	}
	if c.Audience != "" {
		wc.Audience = jwt.ClaimStrings{c.Audience}
	}
	t := jwt.NewWithClaims(method, wc)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return s, nil
}
