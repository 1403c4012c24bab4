package auth

import (
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"os"

	"github.com/golang-jwt/jwt/v5"
)

// ParseRSAPublicKeyPEM parses a PEM-encoded RSA public key (PKIX "PUBLIC
// KEY", PKCS#1 "RSA PUBLIC KEY", or a certificate).
func ParseRSAPublicKeyPEM(data []byte) (*rsa.PublicKey, error) {
	k, err := jwt.ParseRSAPublicKeyFromPEM(data)
	if err != nil {
		return nil, fmt.Errorf("auth: parse RSA public key: %w", err)
	}
	return k, nil
}

// ParseEd25519PublicKeyPEM parses a PEM-encoded (PKIX "PUBLIC KEY")
// Ed25519 public key.
func ParseEd25519PublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	k, err := jwt.ParseEdPublicKeyFromPEM(data)
	if err != nil {
		return nil, fmt.Errorf("auth: parse Ed25519 public key: %w", err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("auth: parse Ed25519 public key: got %T", k)
	}
	return ek, nil
}

// LoadRSAPublicKeyFiles reads one RSA public key from each PEM file.
func LoadRSAPublicKeyFiles(paths ...string) ([]*rsa.PublicKey, error) {
	keys := make([]*rsa.PublicKey, 0, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		k, err := ParseRSAPublicKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("%w (file %s)", err, p)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// LoadEd25519PublicKeyFiles reads one Ed25519 public key from each PEM file.
func LoadEd25519PublicKeyFiles(paths ...string) ([]ed25519.PublicKey, error) {
	keys := make([]ed25519.PublicKey, 0, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		k, err := ParseEd25519PublicKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("%w (file %s)", err, p)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
