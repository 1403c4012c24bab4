package auth

import "errors"

// Errors returned by [Verifier.Verify]. They are wrapped with detail; test
// for them with errors.Is.
var (
	// ErrNoToken means the token string was empty.
	ErrNoToken = errors.New("auth: no token")
	// ErrMalformed means the token is not a well-formed JWT (segments,
	// base64, JSON) or is longer than the verifier accepts.
	ErrMalformed = errors.New("auth: malformed token")
	// ErrExpired means the token's exp is in the past (beyond the leeway).
	// The edge maps it to TOKEN_EXPIRED so clients refresh their token.
	ErrExpired = errors.New("auth: token expired")
	// ErrNotYetValid means the token's nbf or iat is in the future (beyond
	// the leeway).
	ErrNotYetValid = errors.New("auth: token not valid yet")
	// ErrBadSignature means the signature does not verify with any
	// configured key, or the token uses an algorithm with no configured key.
	ErrBadSignature = errors.New("auth: bad token signature")
	// ErrBadClaims means the signature is good but the claims are not
	// acceptable: missing or invalid sub or exp, wrong iss or aud, invalid
	// device id or permission patterns.
	ErrBadClaims = errors.New("auth: bad token claims")
)

// Errors returned by [ResumeSigner.Verify].
var (
	// ErrResumeInvalid means the resume token is malformed, was not signed
	// by a current or previous secret, or carries invalid fields.
	ErrResumeInvalid = errors.New("auth: invalid resume token")
	// ErrResumeExpired means the resume token is authentic but expired.
	ErrResumeExpired = errors.New("auth: resume token expired")
)

// ErrNoKeys is returned by [NewVerifier] (and [Config.Validate]) when no
// verification key is configured.
var ErrNoKeys = errors.New("auth: no token verification key configured")
