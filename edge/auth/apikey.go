package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// CheckAPIKey reports whether got equals one of keys. Every key is
// compared, in constant time over SHA-256 digests, so neither the position
// of a match nor the length of a key leaks through timing. Several keys
// allow rotation. Empty got and empty keys never match.
func CheckAPIKey(got string, keys []string) bool {
	if got == "" {
		return false
	}
	g := sha256.Sum256([]byte(got))
	match := 0
	for _, k := range keys {
		h := sha256.Sum256([]byte(k))
		eq := subtle.ConstantTimeCompare(g[:], h[:])
		if k == "" {
			eq = 0
		}
		match |= eq
	}
	return match == 1
}

// APIKeyFromRequest returns the API key sent as "Authorization: Bearer K"
// (scheme case-insensitive), as the password of HTTP Basic auth, or as
// "X-API-Key: K", in that order. It returns "" when none is present.
func APIKeyFromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			if k := strings.TrimSpace(rest); k != "" {
				return k
			}
		}
		// HTTP Basic with the key as password (any user name): what a
		// browser sends after its login prompt, for the status page.
		if _, pass, ok := r.BasicAuth(); ok && pass != "" {
			return pass
		}
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}
