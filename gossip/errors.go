package gossip

import "errors"

// Errors returned by this package. Callers match them with errors.Is; the
// returned errors wrap them with details (the field, the size seen).
var (
	// ErrInvalidConfig is wrapped by every error Config.Validate returns.
	ErrInvalidConfig = errors.New("gossip: invalid config")

	// ErrInvalidSecretKey reports a SecretKey that is not 16, 24 or 32
	// bytes long (AES-128, AES-192 or AES-256). It also wraps
	// ErrInvalidConfig.
	ErrInvalidSecretKey = errors.New("gossip: secret key must be 16, 24 or 32 bytes")

	// ErrMetaTooLarge reports node metadata whose encoding exceeds
	// MaxMetaSize, memberlist's limit for node metadata.
	ErrMetaTooLarge = errors.New("gossip: node metadata too large")

	// ErrInvalidMeta reports metadata that cannot be encoded (a field out of
	// range) or bytes that do not decode as metadata.
	ErrInvalidMeta = errors.New("gossip: invalid node metadata")

	// ErrClosed is returned by calls made after Shutdown.
	ErrClosed = errors.New("gossip: cluster closed")
)
