package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	secretA = []byte("resume-secret-A-0123456789abcdef0123")
	secretB = []byte("resume-secret-B-0123456789abcdef0123")
)

func newSigner(t testing.TB, now time.Time, cur []byte, prev ...[]byte) *ResumeSigner {
	t.Helper()
	s, err := NewResumeSigner(cur, prev...)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return now }
	return s
}

func TestResumeRoundTrip(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := newSigner(t, now, secretA)
	for _, c := range []ResumeClaims{
		{SessionID: "s-1", User: "alice", Device: "phone", IssuedAt: now, ExpiresAt: now.Add(2 * time.Minute)},
		{SessionID: strings.Repeat("s", MaxIDLen), User: strings.Repeat("u", MaxIDLen), ExpiresAt: now.Add(time.Second)},
	} {
		tok := s.Sign(c)
		if strings.ContainsAny(tok, "+/=.") {
			t.Errorf("token %q is not compact URL-safe", tok)
		}
		got, err := s.Verify(tok)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		want := c
		if want.IssuedAt.IsZero() {
			want.IssuedAt = now
		}
		if got.SessionID != want.SessionID || got.User != want.User || got.Device != want.Device ||
			!got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}

func TestResumeExpiry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := newSigner(t, now, secretA)
	tok := s.Sign(ResumeClaims{SessionID: "s", User: "u", ExpiresAt: now.Add(time.Minute)})
	s.now = func() time.Time { return now.Add(59 * time.Second) }
	if _, err := s.Verify(tok); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	s.now = func() time.Time { return now.Add(time.Minute) }
	if _, err := s.Verify(tok); !errors.Is(err, ErrResumeExpired) {
		t.Fatalf("at expiry: %v", err)
	}
	s.now = func() time.Time { return now }
	if _, err := s.Verify(s.Sign(ResumeClaims{SessionID: "s", User: "u"})); !errors.Is(err, ErrResumeExpired) {
		t.Fatalf("zero ExpiresAt: %v", err)
	}
}

func TestResumeTamper(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := newSigner(t, now, secretA)
	tok := s.Sign(ResumeClaims{SessionID: "s-1", User: "alice", Device: "d", ExpiresAt: now.Add(time.Hour)})
	raw, err := resumeEnc.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			mod := append([]byte(nil), raw...)
			mod[i] ^= bit
			if _, err := s.Verify(resumeEnc.EncodeToString(mod)); !errors.Is(err, ErrResumeInvalid) {
				t.Fatalf("flip byte %d bit %#x: err = %v", i, bit, err)
			}
		}
	}
	for _, bad := range []string{"", "!!!", tok[:len(tok)-1], tok + "A", tok[:10], strings.Repeat("A", 2000), tok + "="} {
		if _, err := s.Verify(bad); !errors.Is(err, ErrResumeInvalid) {
			t.Errorf("Verify(%q) err = %v", bad, err)
		}
	}
}

func TestResumeRotation(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := ResumeClaims{SessionID: "s", User: "u", ExpiresAt: now.Add(time.Hour)}
	oldTok := newSigner(t, now, secretA).Sign(c)
	rotated := newSigner(t, now, secretB, secretA)
	if _, err := rotated.Verify(oldTok); err != nil {
		t.Fatalf("previous secret rejected: %v", err)
	}
	newTok := rotated.Sign(c)
	if _, err := newSigner(t, now, secretB).Verify(newTok); err != nil {
		t.Fatalf("signed with current secret: %v", err)
	}
	if _, err := newSigner(t, now, secretB).Verify(oldTok); !errors.Is(err, ErrResumeInvalid) {
		t.Fatalf("retired secret accepted: %v", err)
	}
	if _, err := newSigner(t, now, secretA).Verify(newTok); !errors.Is(err, ErrResumeInvalid) {
		t.Fatalf("new token verified by old-only signer: %v", err)
	}
}

func TestResumeInvalidFields(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := newSigner(t, now, secretA)
	for _, c := range []ResumeClaims{
		{User: "u"},
		{SessionID: "s"},
		{SessionID: "s", User: "a b"},
		{SessionID: "s", User: "u", Device: "x y"},
		{SessionID: strings.Repeat("s", MaxIDLen+1), User: "u"},
	} {
		c.ExpiresAt = now.Add(time.Hour)
		if _, err := s.Verify(s.Sign(c)); !errors.Is(err, ErrResumeInvalid) {
			t.Errorf("claims %+v: err = %v", c, err)
		}
	}
}

func TestNewResumeSignerShortSecret(t *testing.T) {
	if _, err := NewResumeSigner([]byte("short")); err == nil {
		t.Error("short current secret accepted")
	}
	if _, err := NewResumeSigner(secretA, []byte("short")); err == nil {
		t.Error("short previous secret accepted")
	}
}

func BenchmarkResumeVerify(b *testing.B) {
	now := time.Now()
	s := newSigner(b, now, secretB, secretA)
	tok := s.Sign(ResumeClaims{SessionID: "s-1", User: "alice", Device: "d", ExpiresAt: now.Add(time.Hour)})
	for b.Loop() {
		if _, err := s.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
