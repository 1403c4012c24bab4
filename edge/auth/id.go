package auth

// MaxIDLen is the longest valid id in bytes.
const MaxIDLen = 128

// ValidID reports whether s is a valid user, device, conversation or room
// id: 1-128 bytes of [A-Za-z0-9._:@/-].
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) {
			return false
		}
	}
	return true
}

func idByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '.', c == '_', c == ':', c == '@', c == '/', c == '-':
		return true
	}
	return false
}
