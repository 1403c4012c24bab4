package client

import (
	"crypto/rand"
	"encoding/hex"
)

// validID reports whether s is a valid conversation, room, device or
// client message id: 1-128 bytes of [A-Za-z0-9._:@/-].
func validID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == ':', c == '@', c == '/', c == '-':
		default:
			return false
		}
	}
	return true
}

// randomID returns 128 random bits in hex.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// NewMessageID returns a fresh random client message id, as Send uses.
// Store it with the message to resend it with SendWithID after a restart.
func NewMessageID() string { return randomID() }
