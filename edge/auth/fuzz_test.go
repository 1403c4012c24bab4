package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func FuzzVerify(f *testing.F) {
	k := testKeys(f)
	v := allAlgVerifier(f, nil)
	f.Add(sign(f, jwt.SigningMethodHS256, k.hmac, "", baseClaims(nil)))
	f.Add(sign(f, jwt.SigningMethodRS256, k.rsa, "", baseClaims(nil)))
	f.Add(sign(f, jwt.SigningMethodEdDSA, k.ed, "kid1", baseClaims(nil)))
	f.Add(sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", baseClaims(nil)))
	f.Add(sign(f, jwt.SigningMethodHS256, k.hmac, "", baseClaims(func(c jwt.MapClaims) {
		c["convs"] = []string{"**", "a*b", "{sub}"}
	})))
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(tok)
		if err != nil {
			if c != nil {
				t.Fatal("claims with error")
			}
			return
		}
		if !ValidID(c.Subject) || c.ExpiresAt.IsZero() {
			t.Fatalf("accepted bad claims %+v", c)
		}
		for _, id := range c.ExactConversations() {
			if !c.CanConversation(id) {
				t.Fatalf("exact conversation %q not allowed", id)
			}
		}
	})
}

func FuzzResumeVerify(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	s := newSigner(f, now, secretB, secretA)
	old := newSigner(f, now, secretA)
	f.Add(s.Sign(ResumeClaims{SessionID: "s-1", User: "alice", Device: "d", ExpiresAt: now.Add(time.Hour)}))
	f.Add(old.Sign(ResumeClaims{SessionID: "s-2", User: "bob", ExpiresAt: now.Add(time.Hour)}))
	f.Add(s.Sign(ResumeClaims{SessionID: "s-3", User: "carol"}))
	f.Add("")
	f.Add(strings.Repeat("A", 100))
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok)
		if err != nil {
			return
		}
		if !ValidID(c.User) || !ValidID(c.SessionID) || !now.Before(c.ExpiresAt) {
			t.Fatalf("accepted bad claims %+v", c)
		}
	})
}
