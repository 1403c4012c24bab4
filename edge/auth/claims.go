package auth

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// wireClaims is the JSON form of a client token's claims.
type wireClaims struct {
	jwt.RegisteredClaims
	Convs  []string `json:"convs,omitempty"`
	Rooms  []string `json:"rooms,omitempty"`
	Device string   `json:"device,omitempty"`
}

// Claims are the verified claims of a client token. The exported fields
// are read-only copies of the token; permission checks go through the
// methods, which use patterns compiled once by [Verifier.Verify].
type Claims struct {
	// Subject is the user id (sub), a valid id.
	Subject string
	// Device is the optional device id (device), empty or a valid id.
	Device string
	// Convs are the convs entries as written in the token.
	Convs []string
	// Rooms are the rooms entries as written in the token.
	Rooms []string
	// Issuer is iss, if any.
	Issuer string
	// ExpiresAt is exp; always set.
	ExpiresAt time.Time
	// NotBefore is nbf, zero if absent.
	NotBefore time.Time
	// IssuedAt is iat, zero if absent.
	IssuedAt time.Time

	convs permSet
	rooms permSet
}

// newClaims validates the application claims and compiles permissions.
func newClaims(wc *wireClaims) (*Claims, error) {
	if wc.Subject == "" {
		return nil, fmt.Errorf("%w: missing sub", ErrBadClaims)
	}
	if !ValidID(wc.Subject) {
		return nil, fmt.Errorf("%w: sub is not a valid id", ErrBadClaims)
	}
	if wc.Device != "" && !ValidID(wc.Device) {
		return nil, fmt.Errorf("%w: device is not a valid id", ErrBadClaims)
	}
	c := &Claims{
		Subject: wc.Subject,
		Device:  wc.Device,
		Convs:   wc.Convs,
		Rooms:   wc.Rooms,
		Issuer:  wc.Issuer,
	}
	if wc.ExpiresAt != nil {
		c.ExpiresAt = wc.ExpiresAt.Time
	}
	if wc.NotBefore != nil {
		c.NotBefore = wc.NotBefore.Time
	}
	if wc.IssuedAt != nil {
		c.IssuedAt = wc.IssuedAt.Time
	}
	var err error
	if c.convs, err = compilePerms(wc.Convs, wc.Subject); err != nil {
		return nil, fmt.Errorf("%w: convs: %v", ErrBadClaims, err)
	}
	if c.rooms, err = compilePerms(wc.Rooms, wc.Subject); err != nil {
		return nil, fmt.Errorf("%w: rooms: %v", ErrBadClaims, err)
	}
	return c, nil
}

// CanConversation reports whether the token allows reading and writing
// conversation id. Invalid ids are never allowed.
func (c *Claims) CanConversation(id string) bool { return c.convs.allows(id) }

// CanRoom reports whether the token allows joining and commenting in room
// id. Invalid ids are never allowed.
func (c *Claims) CanRoom(id string) bool { return c.rooms.allows(id) }

// ExactConversations returns the non-pattern convs entries ({sub}
// substituted), deduplicated, in token order: the conversations a session
// is subscribed to automatically. The slice is a copy.
func (c *Claims) ExactConversations() []string {
	return append([]string(nil), c.convs.order...)
}

// ExactRooms returns the non-pattern rooms entries, like
// [Claims.ExactConversations].
func (c *Claims) ExactRooms() []string {
	return append([]string(nil), c.rooms.order...)
}
