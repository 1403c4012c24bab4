package auth

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		entry, sub, id string
		want           bool
	}{
		{"*", "u", "a:b:c", true},
		{"**", "u", "a", true},
		{"group:*", "u", "group:a", true},
		{"group:*", "u", "group:a:b", false},
		{"group:*", "u", "group:", false},
		{"group:*", "u", "group", false},
		{"group:*", "u", "groupx:a", false},
		{"dm:alice:*", "u", "dm:alice:bob", true},
		{"dm:alice:*", "u", "dm:alicex:bob", false},
		{"org:acme:**", "u", "org:acme:a:b", true},
		{"org:acme:**", "u", "org:acme:a", true},
		{"org:acme:**", "u", "org:acme:", false},
		{"org:acme:**", "u", "org:acme", false},
		{"team-*-chat", "u", "team-7-chat", true},
		{"team-*-chat", "u", "team--chat", false},
		{"team-*-chat", "u", "team-a:b-chat", false},
		{"team-**-chat", "u", "team-a:b-chat", true},
		{"*:*", "u", "a:b", true},
		{"*:*", "u", "a", false},
		{"*:*", "u", "a:b:c", false},
		{"a*b*c", "u", "axxbyyc", true},
		{"a*b*c", "u", "abc", false},
		{"a*b", "u", "abbbb", true},
		{"**:x", "u", "a:b:x", true},
		{"**:x", "u", ":x", false},
		{"dm:{sub}:*", "alice", "dm:alice:bob", true},
		{"dm:{sub}:*", "alice", "dm:bob:alice", false},
		{"dm:*:{sub}", "alice", "dm:bob:alice", true},
		{"{sub}", "alice", "alice", true},
		{"{sub}", "alice", "bob", false},
		{"*", "u", "a b", false},                     // invalid id
		{"*", "u", "", false},                        // invalid id
		{"**", "u", strings.Repeat("a", 129), false}, // invalid id
	}
	for _, tc := range tests {
		ps, err := compilePerms([]string{tc.entry}, tc.sub)
		if err != nil {
			t.Fatalf("compile %q: %v", tc.entry, err)
		}
		if got := ps.allows(tc.id); got != tc.want {
			t.Errorf("%q (sub %q) allows %q = %v, want %v", tc.entry, tc.sub, tc.id, got, tc.want)
		}
	}
}

func TestPatternInvalid(t *testing.T) {
	for _, entry := range []string{"", "***", "a***b", "a{b}", "{user}", "{sub", "a b", "é", strings.Repeat("a", maxPatternLen+1), strings.Repeat("a", MaxIDLen+1)} {
		if _, err := compilePerms([]string{entry}, "alice"); err == nil {
			t.Errorf("entry %q accepted", entry)
		}
	}
	// A long pattern (not an exact id) is fine up to maxPatternLen.
	if _, err := compilePerms([]string{strings.Repeat("a", MaxIDLen) + "*"}, "u"); err != nil {
		t.Errorf("long pattern: %v", err)
	}
}

// regexpFor is an independent reference implementation of the pattern rules.
func regexpFor(p string) *regexp.Regexp {
	if p == "*" || p == "**" {
		return regexp.MustCompile(`^.+$`)
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		if p[i] == '*' {
			if i+1 < len(p) && p[i+1] == '*' {
				b.WriteString(".+")
				i++
			} else {
				b.WriteString("[^:]+")
			}
			continue
		}
		b.WriteString(regexp.QuoteMeta(p[i : i+1]))
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestPatternMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alpha = "ab:"
	randStr := func(n int, extra string) string {
		set := alpha + extra
		b := make([]byte, n)
		for i := range b {
			b[i] = set[rng.IntN(len(set))]
		}
		return string(b)
	}
	for i := 0; i < 3000; i++ {
		p := randStr(1+rng.IntN(6), "**")
		if strings.Contains(p, "***") {
			continue
		}
		ps, err := compilePerms([]string{p}, "u")
		if err != nil {
			t.Fatalf("compile %q: %v", p, err)
		}
		re := regexpFor(p)
		for j := 0; j < 20; j++ {
			id := randStr(1+rng.IntN(8), "")
			if got, want := ps.allows(id), re.MatchString(id); got != want {
				t.Fatalf("%q allows %q = %v, reference %v", p, id, got, want)
			}
		}
	}
}

func FuzzPatternMatch(f *testing.F) {
	f.Add("dm:{sub}:*", "alice", "dm:alice:bob")
	f.Add("org:**:x", "u", "org:a:b:x")
	f.Add("a*b*c", "u", "axbxc")
	f.Fuzz(func(t *testing.T, entry, sub, id string) {
		if !ValidID(sub) {
			return
		}
		ps, err := compilePerms([]string{entry}, sub)
		if err != nil {
			return
		}
		got := ps.allows(id)
		if !ValidID(id) {
			if got {
				t.Fatalf("invalid id %q allowed", id)
			}
			return
		}
		expanded := strings.ReplaceAll(entry, subPlaceholder, sub)
		if want := regexpFor(expanded).MatchString(id); got != want {
			t.Fatalf("%q allows %q = %v, reference %v", expanded, id, got, want)
		}
	})
}

func BenchmarkPatternMatch(b *testing.B) {
	ps, err := compilePerms([]string{"dm:{sub}:*", "group:*:chat", "org:acme:**"}, "alice")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !ps.allows("org:acme:team:7") {
			b.Fatal("no match")
		}
	}
}
