// Package auth verifies who a client or backend is and what it may touch.
//
// It owns:
//   - JWT verification for client connections ([Verifier], [Claims]):
//     HS256, RS256 and EdDSA, with the allowed algorithms being exactly those
//     for which keys are configured (never "none"), so a token cannot pick
//     an algorithm that turns a public key into an HMAC secret;
//   - permission patterns in the convs and rooms claims ([Claims.CanConversation],
//     [Claims.CanRoom]);
//   - id validation shared by users, devices, conversations and rooms ([ValidID]);
//   - token minting for dev mode, tests and load generators ([MintHS256]);
//   - resume tokens signed by the edge itself ([ResumeSigner]);
//   - API keys for the backend HTTP API ([CheckAPIKey], [APIKeyFromRequest]).
//
// It must not touch sessions, transports, storage or metrics: it is pure
// functions over tokens and keys, safe for concurrent use, with no
// goroutines. Callers map its sentinel errors to protocol error codes
// (for example [ErrExpired] to TOKEN_EXPIRED).
//
// # Permission patterns
//
// Ids are 1-128 bytes of [A-Za-z0-9._:@/-] and use ':' to separate
// segments by convention (dm:alice:bob, group:team-7, room:launch).
// An entry in convs or rooms is either an exact id or a pattern:
//
//   - "*" or "**" on its own matches every id;
//   - "*" matches one or more characters within one ':'-separated segment
//     (it never matches ':'), so "group:*" matches "group:a" but not
//     "group:a:b" nor "group:";
//   - "**" matches one or more characters of any kind, including ':', so
//     "org:acme:**" matches everything below "org:acme:";
//   - "{sub}" is replaced by the token's subject before matching, so
//     "dm:{sub}:*" lets alice read "dm:alice:bob".
//
// Wildcards may be mixed with literal text inside a segment ("team-*-chat").
// Three or more stars in a row, other "{...}" placeholders, or characters
// outside the id alphabet make the token's claims invalid ([ErrBadClaims]).
// Exact entries (no wildcard after substitution) are what the edge
// subscribes a session to automatically ([Claims.ExactConversations]).
//
// # Key selection
//
// If the token carries a "kid" header that names a configured key of the
// token's algorithm, only that key is tried. Otherwise every configured key
// of that algorithm is tried in order; all configured keys are trusted, so
// the kid is a shortcut, not a security boundary.
package auth
