package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Resume token layout (before base64url without padding):
//
//	version  1 byte (resumeVersion)
//	iat      signed varint, Unix seconds
//	exp      signed varint, Unix seconds
//	session  uvarint length + bytes
//	user     uvarint length + bytes
//	device   uvarint length + bytes (may be empty)
//	mac      32 bytes HMAC-SHA256(secret, everything above)
const (
	resumeVersion   = 1
	resumeMACLen    = sha256.Size
	maxResumeTokLen = 1024 // base64 characters; real tokens are < 600
)

var resumeEnc = base64.RawURLEncoding.Strict()

// ResumeClaims are the contents of a resume token. Times have one-second
// granularity.
type ResumeClaims struct {
	// SessionID names the detached session to resume; a valid id.
	SessionID string
	// User is the session's user id; a valid id.
	User string
	// Device is the session's device id; empty or a valid id.
	Device string
	// IssuedAt defaults to now in [ResumeSigner.Sign].
	IssuedAt time.Time
	// ExpiresAt is when the token stops being accepted. A zero value makes
	// a token that is already expired.
	ExpiresAt time.Time
}

// ResumeSigner signs and verifies resume tokens with HMAC-SHA256 under a
// server secret. It signs with the current secret and accepts the current
// and any previous secrets, so secrets can be rotated without cutting off
// sessions. It is safe for concurrent use.
type ResumeSigner struct {
	secrets [][]byte // [0] signs; all verify
	now     func() time.Time
}

// NewResumeSigner returns a signer using current to sign and current or
// any of previous to verify. Every secret must be at least 32 bytes.
func NewResumeSigner(current []byte, previous ...[]byte) (*ResumeSigner, error) {
	s := &ResumeSigner{now: time.Now}
	for i, sec := range append([][]byte{current}, previous...) {
		if len(sec) < MinHMACSecretLen {
			return nil, fmt.Errorf("auth: resume secret %d is %d bytes; use at least %d", i, len(sec), MinHMACSecretLen)
		}
		s.secrets = append(s.secrets, append([]byte(nil), sec...))
	}
	return s, nil
}

// Sign returns a compact URL-safe token for c. Sign does not validate c;
// [ResumeSigner.Verify] rejects tokens whose ids are not valid.
func (s *ResumeSigner) Sign(c ResumeClaims) string {
	iat := c.IssuedAt
	if iat.IsZero() {
		iat = s.now()
	}
	var exp int64
	if !c.ExpiresAt.IsZero() {
		exp = c.ExpiresAt.Unix()
	}
	b := make([]byte, 0, 1+20+3*2+len(c.SessionID)+len(c.User)+len(c.Device)+resumeMACLen)
	b = append(b, resumeVersion)
	b = binary.AppendVarint(b, iat.Unix())
	b = binary.AppendVarint(b, exp)
	for _, f := range []string{c.SessionID, c.User, c.Device} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = append(b, macOf(s.secrets[0], b)...)
	return resumeEnc.EncodeToString(b)
}

// Verify checks tok's signature (constant time, against every accepted
// secret) and expiry, and returns its claims. Errors wrap
// [ErrResumeInvalid] or [ErrResumeExpired].
func (s *ResumeSigner) Verify(tok string) (ResumeClaims, error) {
	if tok == "" || len(tok) > maxResumeTokLen {
		return ResumeClaims{}, fmt.Errorf("%w: bad length", ErrResumeInvalid)
	}
	raw, err := resumeEnc.DecodeString(tok)
	if err != nil {
		return ResumeClaims{}, fmt.Errorf("%w: bad encoding", ErrResumeInvalid)
	}
	if len(raw) < 1+resumeMACLen {
		return ResumeClaims{}, fmt.Errorf("%w: too short", ErrResumeInvalid)
	}
	body, mac := raw[:len(raw)-resumeMACLen], raw[len(raw)-resumeMACLen:]
	ok := 0
	for _, sec := range s.secrets {
		if hmac.Equal(mac, macOf(sec, body)) {
			ok = 1
		}
	}
	if ok == 0 {
		return ResumeClaims{}, fmt.Errorf("%w: bad signature", ErrResumeInvalid)
	}
	c, err := decodeResume(body)
	if err != nil {
		return ResumeClaims{}, fmt.Errorf("%w: %v", ErrResumeInvalid, err)
	}
	if !s.now().Before(c.ExpiresAt) {
		return ResumeClaims{}, ErrResumeExpired
	}
	return c, nil
}

func macOf(secret, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(body)
	return h.Sum(nil)
}

// decodeResume parses an authenticated token body.
func decodeResume(b []byte) (ResumeClaims, error) {
	if b[0] != resumeVersion {
		return ResumeClaims{}, fmt.Errorf("unknown version %d", b[0])
	}
	b = b[1:]
	var times [2]int64
	for i := range times {
		v, n := binary.Varint(b)
		if n <= 0 {
			return ResumeClaims{}, errors.New("bad time")
		}
		times[i], b = v, b[n:]
	}
	var fields [3]string
	for i := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > MaxIDLen || l > uint64(len(b)-n) {
			return ResumeClaims{}, errors.New("bad field length")
		}
		fields[i], b = string(b[n:n+int(l)]), b[n+int(l):]
	}
	if len(b) != 0 {
		return ResumeClaims{}, errors.New("trailing bytes")
	}
	c := ResumeClaims{
		SessionID: fields[0],
		User:      fields[1],
		Device:    fields[2],
		IssuedAt:  time.Unix(times[0], 0),
		ExpiresAt: time.Unix(times[1], 0),
	}
	if !ValidID(c.SessionID) || !ValidID(c.User) || (c.Device != "" && !ValidID(c.Device)) {
		return ResumeClaims{}, errors.New("invalid id")
	}
	return c, nil
}
