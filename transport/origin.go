package transport

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// originRule is one parsed AllowedOrigins entry.
type originRule struct {
	scheme string // "" matches any scheme
	host   string // host[:port], lower case; without the "*." for wildcards
	wild   bool   // host matches any subdomain of host
	null   bool   // the literal "null" origin
}

func parseOrigins(list []string) ([]originRule, error) {
	rules := make([]originRule, 0, len(list))
	for _, o := range list {
		r, err := parseOriginRule(o)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseOriginRule(o string) (originRule, error) {
	s := strings.ToLower(strings.TrimSpace(o))
	if s == "null" {
		return originRule{null: true}, nil
	}
	var r originRule
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if scheme == "" {
			return r, fmt.Errorf("origin %q: empty scheme", o)
		}
		r.scheme, s = scheme, rest
	}
	if h, ok := strings.CutPrefix(s, "*."); ok {
		r.wild, s = true, h
	}
	if s == "" || strings.ContainsAny(s, "/*?#@ ") {
		return r, fmt.Errorf("origin %q: want scheme://host[:port] with an optional leading *. in the host", o)
	}
	r.host = s
	return r, nil
}

func (r originRule) match(scheme, host string) bool {
	if r.scheme != "" && r.scheme != scheme {
		return false
	}
	if !r.wild {
		return host == r.host
	}
	return len(host) > len(r.host)+1 && strings.HasSuffix(host, r.host) && host[len(host)-len(r.host)-1] == '.'
}

// originAllowed applies the origin policy to a request.
func originAllowed(req *http.Request, rules []originRule, all bool) bool {
	origin := req.Header.Get("Origin")
	if origin == "" || all {
		return true
	}
	if origin == "null" {
		for _, r := range rules {
			if r.null {
				return true
			}
		}
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if len(rules) == 0 {
		return host == strings.ToLower(req.Host)
	}
	for _, r := range rules {
		if !r.null && r.match(scheme, host) {
			return true
		}
	}
	return false
}
