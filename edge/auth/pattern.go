package auth

import (
	"errors"
	"fmt"
	"strings"
)

// maxPatternLen bounds one permission entry after {sub} substitution.
const maxPatternLen = 2 * MaxIDLen

// subPlaceholder is replaced by the token's subject in permission entries.
const subPlaceholder = "{sub}"

type tokKind uint8

const (
	tokLit     tokKind = iota // literal text
	tokStar                   // "*": one or more bytes, none of them ':'
	tokGlobAll                // "**": one or more bytes of any kind
)

type patTok struct {
	kind tokKind
	lit  string
}

// pattern is one compiled wildcard permission entry.
type pattern struct {
	src  string // after {sub} substitution
	all  bool   // "*" or "**" alone: matches every id
	toks []patTok
}

// expandEntry substitutes {sub} and checks the entry's alphabet. It returns
// the expanded text and whether it contains a wildcard.
func expandEntry(raw, sub string) (string, bool, error) {
	s := raw
	if strings.Contains(s, subPlaceholder) {
		s = strings.ReplaceAll(s, subPlaceholder, sub)
	}
	if len(s) == 0 {
		return "", false, errors.New("empty entry")
	}
	if len(s) > maxPatternLen {
		return "", false, fmt.Errorf("entry is %d bytes, max %d", len(s), maxPatternLen)
	}
	wild := false
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '*' {
			wild = true
			run++
			if run > 2 {
				return "", false, fmt.Errorf("entry %q: more than two '*' in a row", raw)
			}
			continue
		}
		run = 0
		if !idByte(c) {
			return "", false, fmt.Errorf("entry %q: invalid byte %q", raw, c)
		}
	}
	if !wild && !ValidID(s) {
		return "", false, fmt.Errorf("entry %q is not a valid id", raw)
	}
	return s, wild, nil
}

// compilePattern compiles an expanded entry that contains a wildcard.
func compilePattern(s string) pattern {
	p := pattern{src: s}
	if s == "*" || s == "**" {
		p.all = true
		return p
	}
	for i := 0; i < len(s); {
		if s[i] == '*' {
			if i+1 < len(s) && s[i+1] == '*' {
				p.toks = append(p.toks, patTok{kind: tokGlobAll})
				i += 2
			} else {
				p.toks = append(p.toks, patTok{kind: tokStar})
				i++
			}
			continue
		}
		j := strings.IndexByte(s[i:], '*')
		if j < 0 {
			j = len(s) - i
		}
		p.toks = append(p.toks, patTok{kind: tokLit, lit: s[i : i+j]})
		i += j
	}
	return p
}

// match reports whether id (already checked with ValidID, so at most
// MaxIDLen bytes) matches the pattern. It runs a position-set simulation:
// O(tokens * len(id)^2) in the worst case, no allocation, no backtracking
// blow-up.
func (p *pattern) match(id string) bool {
	if p.all {
		return true
	}
	n := len(id)
	if n > MaxIDLen {
		return false
	}
	var a, b [MaxIDLen + 1]bool
	cur, next := &a, &b
	cur[0] = true
	for _, t := range p.toks {
		*next = [MaxIDLen + 1]bool{}
		live := false
		switch t.kind {
		case tokLit:
			for pos := 0; pos <= n; pos++ {
				if cur[pos] && strings.HasPrefix(id[pos:], t.lit) {
					next[pos+len(t.lit)] = true
					live = true
				}
			}
		case tokStar:
			for pos := 0; pos < n; pos++ {
				if !cur[pos] {
					continue
				}
				for q := pos; q < n && id[q] != ':'; q++ {
					next[q+1] = true
					live = true
				}
			}
		case tokGlobAll:
			for pos := 0; pos < n; pos++ {
				if cur[pos] {
					for q := pos + 1; q <= n; q++ {
						next[q] = true
					}
					live = true
					break
				}
			}
		}
		if !live {
			return false
		}
		cur, next = next, cur
	}
	return cur[n]
}

// permSet is a compiled convs or rooms claim. A session keeps its claims
// for its whole life, so small sets (the common case) use the order slice
// alone: a map per idle connection would cost more than a linear scan.
type permSet struct {
	exact    map[string]struct{} // only when there are more than exactMapMin entries
	order    []string            // exact entries, deduplicated, in claim order
	patterns []pattern
}

// exactMapMin is the number of exact entries from which a map is built.
const exactMapMin = 8

// compilePerms expands and compiles every entry of a claim.
func compilePerms(entries []string, sub string) (permSet, error) {
	var ps permSet
	for _, raw := range entries {
		s, wild, err := expandEntry(raw, sub)
		if err != nil {
			return permSet{}, err
		}
		if wild {
			ps.patterns = append(ps.patterns, compilePattern(s))
			continue
		}
		if ps.hasExact(s) {
			continue
		}
		ps.order = append(ps.order, s)
		if ps.exact != nil {
			ps.exact[s] = struct{}{}
		} else if len(ps.order) > exactMapMin {
			ps.exact = make(map[string]struct{}, len(entries))
			for _, e := range ps.order {
				ps.exact[e] = struct{}{}
			}
		}
	}
	return ps, nil
}

func (ps *permSet) hasExact(id string) bool {
	if ps.exact != nil {
		_, ok := ps.exact[id]
		return ok
	}
	for _, e := range ps.order {
		if e == id {
			return true
		}
	}
	return false
}

// allows reports whether id is permitted by the set.
func (ps *permSet) allows(id string) bool {
	if !ValidID(id) {
		return false
	}
	if ps.hasExact(id) {
		return true
	}
	for i := range ps.patterns {
		if ps.patterns[i].match(id) {
			return true
		}
	}
	return false
}
