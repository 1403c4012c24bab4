package transport

import (
	"net/http/httptest"
	"testing"
)

func TestOriginAllowed(t *testing.T) {
	list := []string{"https://chat.example.com", "https://*.example.org", "*.example.net", "http://localhost:3000", "null"}
	tests := []struct {
		name   string
		list   []string
		all    bool
		host   string
		origin string
		want   bool
	}{
		{"no origin header", list, false, "edge.example.com", "", true},
		{"exact", list, false, "edge.example.com", "https://chat.example.com", true},
		{"exact ignores case", list, false, "edge.example.com", "HTTPS://Chat.Example.COM", true},
		{"exact wrong scheme", list, false, "edge.example.com", "http://chat.example.com", false},
		{"exact other port", list, false, "edge.example.com", "https://chat.example.com:8443", false},
		{"exact sibling", list, false, "edge.example.com", "https://evil.example.com", false},
		{"wildcard subdomain", list, false, "e", "https://a.example.org", true},
		{"wildcard deep subdomain", list, false, "e", "https://a.b.example.org", true},
		{"wildcard excludes apex", list, false, "e", "https://example.org", false},
		{"wildcard suffix trick", list, false, "e", "https://evilexample.org", false},
		{"wildcard other suffix", list, false, "e", "https://a.example.org.evil.com", false},
		{"wildcard scheme", list, false, "e", "http://a.example.org", false},
		{"wildcard any scheme", list, false, "e", "http://x.example.net", true},
		{"port in rule", list, false, "e", "http://localhost:3000", true},
		{"null listed", list, false, "e", "null", true},
		{"null not listed", []string{"https://a.com"}, false, "e", "null", false},
		{"garbage origin", list, false, "e", "::::", false},
		{"empty list same host", nil, false, "edge.example.com:8080", "https://edge.example.com:8080", true},
		{"empty list other host", nil, false, "edge.example.com", "https://evil.com", false},
		{"empty list is not allow-all", nil, false, "edge.example.com", "https://chat.example.com", false},
		{"allow all", nil, true, "edge.example.com", "https://evil.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := parseOrigins(tt.list)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "http://"+tt.host+"/v1/ws", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got := originAllowed(r, rules, tt.all); got != tt.want {
				t.Fatalf("originAllowed(%q) = %v, want %v", tt.origin, got, tt.want)
			}
		})
	}
}

func TestWSConfigValidate(t *testing.T) {
	bad := []WSConfig{
		{MaxFrameBytes: -1},
		{WriteTimeout: -1},
		{ReadBufferSize: -5},
		{AllowedOrigins: []string{"https://a.com/path"}},
		{AllowedOrigins: []string{"https://a.*.com"}},
		{AllowedOrigins: []string{"://a.com"}},
		{AllowedOrigins: []string{""}},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want error", c)
		}
		if _, err := NewWSAcceptor(c); err == nil {
			t.Errorf("NewWSAcceptor(%+v) succeeded", c)
		}
	}
	var zero WSConfig
	if err := zero.Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
}
