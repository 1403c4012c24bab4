package auth

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"
)

func TestCheckAPIKey(t *testing.T) {
	keys := []string{"old-key", "", "new-key"}
	tests := []struct {
		got  string
		keys []string
		want bool
	}{
		{"old-key", keys, true},
		{"new-key", keys, true},
		{"", keys, false},
		{"new-ke", keys, false},
		{"new-keyy", keys, false},
		{"x", nil, false},
		{"", []string{""}, false},
	}
	for _, tc := range tests {
		if got := CheckAPIKey(tc.got, tc.keys); got != tc.want {
			t.Errorf("CheckAPIKey(%q, %q) = %v, want %v", tc.got, tc.keys, got, tc.want)
		}
	}
}

func TestAPIKeyFromRequest(t *testing.T) {
	tests := []struct {
		auth, xkey, want string
	}{
		{"Bearer k1", "", "k1"},
		{"bearer   k1 ", "", "k1"},
		{"Basic abc", "k2", "k2"},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("ops:k4")), "", "k4"},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("ops:")), "k2", "k2"},
		{"Bearer ", "k2", "k2"},
		{"", " k3 ", "k3"},
		{"Bearer k1", "k2", "k1"},
		{"", "", ""},
		{"Bearerk1", "", ""},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/v1/x", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if tc.xkey != "" {
			r.Header.Set("X-API-Key", tc.xkey)
		}
		if got := APIKeyFromRequest(r); got != tc.want {
			t.Errorf("auth %q x-api-key %q: got %q, want %q", tc.auth, tc.xkey, got, tc.want)
		}
	}
}
