package store

import (
	"encoding/binary"
	"fmt"
)

// Kind is the table a key belongs to (its first byte).
type Kind byte

// Key kinds; see the layout in the package documentation.
const (
	KindMeta     Kind = 0x00 // store metadata (format version)
	KindLog      Kind = 0x01 // conversation log record
	KindHead     Kind = 0x02 // conversation head
	KindDedup    Kind = 0x03 // dedup index
	KindPosition Kind = 0x04 // delivery position
	KindGroup    Kind = 0x05 // conversation of a replication group
	KindApplied  Kind = 0x06 // a replication group's applied log index
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindMeta:
		return "meta"
	case KindLog:
		return "log"
	case KindHead:
		return "head"
	case KindDedup:
		return "dedup"
	case KindPosition:
		return "position"
	case KindGroup:
		return "group"
	case KindApplied:
		return "applied"
	}
	return fmt.Sprintf("kind(0x%02x)", byte(k))
}

const (
	escByte  = 0x00 // starts an escape or a terminator
	escZero  = 0xFF // escByte escZero encodes a literal 0x00
	escTerm  = 0x01 // escByte escTerm ends a component
	seqBytes = 8
)

// formatKey holds the on-disk format version.
var formatKey = []byte{byte(KindMeta), 'f', 'o', 'r', 'm', 'a', 't'}

// Key is a decoded store key. Only the fields of its Kind are set.
type Key struct {
	Kind        Kind
	Conv        string // log, head, dedup, position
	Seq         uint64 // log
	Sender      string // dedup
	ClientMsgID string // dedup
	User        string // position
	Device      string // position
	Group       uint32 // group, applied
}

// Encode returns the canonical encoding of k. DecodeKey(k.Encode()) == k for
// every Key of a known kind other than KindMeta.
func (k Key) Encode() []byte {
	switch k.Kind {
	case KindLog:
		return logKey(k.Conv, k.Seq)
	case KindHead:
		return headKey(k.Conv)
	case KindDedup:
		return dedupKey(k.Conv, k.Sender, k.ClientMsgID)
	case KindPosition:
		return posKey(k.User, k.Device, k.Conv)
	case KindGroup:
		return groupConvKey(k.Group, k.Conv)
	case KindApplied:
		return appliedKey(k.Group)
	}
	return nil
}

// appendComponent appends the escaped, terminated form of s.
func appendComponent(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == escByte {
			b = append(b, escByte, escZero)
			continue
		}
		b = append(b, s[i])
	}
	return append(b, escByte, escTerm)
}

// componentsLen is the exact encoded size of the given components.
func componentsLen(ss ...string) int {
	n := 0
	for _, s := range ss {
		n += len(s) + 2
		for i := 0; i < len(s); i++ {
			if s[i] == escByte {
				n++
			}
		}
	}
	return n
}

// logPrefix is the prefix shared by every log key of conv.
func logPrefix(conv string) []byte {
	b := make([]byte, 0, 1+componentsLen(conv)+seqBytes)
	return appendComponent(append(b, byte(KindLog)), conv)
}

// logKey is the key of record (conv, seq).
func logKey(conv string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(logPrefix(conv), seq)
}

// headKey is the key of conv's head.
func headKey(conv string) []byte {
	b := make([]byte, 0, 1+componentsLen(conv))
	return appendComponent(append(b, byte(KindHead)), conv)
}

// dedupKey is the key of the dedup entry (conv, sender, clientMsgID).
func dedupKey(conv, sender, clientMsgID string) []byte {
	b := make([]byte, 0, 1+componentsLen(conv, sender, clientMsgID))
	b = appendComponent(append(b, byte(KindDedup)), conv)
	b = appendComponent(b, sender)
	return appendComponent(b, clientMsgID)
}

// posPrefix is the prefix shared by every position of (user, device).
func posPrefix(user, device string) []byte {
	b := make([]byte, 0, 1+componentsLen(user, device)+16)
	b = appendComponent(append(b, byte(KindPosition)), user)
	return appendComponent(b, device)
}

// posKey is the key of the position (user, device, conv).
func posKey(user, device, conv string) []byte {
	return appendComponent(posPrefix(user, device), conv)
}

// groupPrefix is the prefix of every conversation key of group.
func groupPrefix(group uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{byte(KindGroup)}, group)
}

// groupConvKey records that conv belongs to group.
func groupConvKey(group uint32, conv string) []byte {
	return appendComponent(groupPrefix(group), conv)
}

// appliedKey holds group's applied log index.
func appliedKey(group uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{byte(KindApplied)}, group)
}

// prefixEnd returns the smallest key greater than every key starting with
// prefix. Every prefix built here ends with a terminator (0x00 0x01) and no
// encoding contains 0x00 0x02, so bumping the last byte is exact.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	end[len(end)-1]++
	return end
}

// readComponent decodes one escaped, terminated component from the start
// of b and returns it with the rest of b.
func readComponent(b []byte) (string, []byte, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != escByte {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			return "", nil, fmt.Errorf("%w: key: dangling escape byte", ErrCorrupt)
		}
		switch b[i+1] {
		case escTerm:
			return string(out), b[i+2:], nil
		case escZero:
			out = append(out, escByte)
			i++
		default:
			return "", nil, fmt.Errorf("%w: key: bad escape 0x00 0x%02x", ErrCorrupt, b[i+1])
		}
	}
	return "", nil, fmt.Errorf("%w: key: unterminated component", ErrCorrupt)
}

// readComponents decodes n components from the start of b.
func readComponents(b []byte, n int) ([]string, []byte, error) {
	out := make([]string, n)
	for i := range out {
		var err error
		if out[i], b, err = readComponent(b); err != nil {
			return nil, nil, err
		}
	}
	return out, b, nil
}

// DecodeKey decodes a store key. It accepts exactly the canonical encodings
// produced by Key.Encode (and the format key, as KindMeta) and returns an
// error wrapping ErrCorrupt for anything else; it never panics.
func DecodeKey(b []byte) (Key, error) {
	if len(b) == 0 {
		return Key{}, fmt.Errorf("%w: empty key", ErrCorrupt)
	}
	k := Key{Kind: Kind(b[0])}
	rest := b[1:]
	var (
		parts []string
		err   error
	)
	switch k.Kind {
	case KindMeta:
		if string(b) != string(formatKey) {
			return Key{}, fmt.Errorf("%w: unknown meta key %q", ErrCorrupt, b)
		}
		return k, nil
	case KindLog:
		if parts, rest, err = readComponents(rest, 1); err != nil {
			return Key{}, err
		}
		if len(rest) != seqBytes {
			return Key{}, fmt.Errorf("%w: log key: seq has %d bytes, want %d", ErrCorrupt, len(rest), seqBytes)
		}
		k.Conv, k.Seq = parts[0], binary.BigEndian.Uint64(rest)
		return k, nil
	case KindHead:
		if parts, rest, err = readComponents(rest, 1); err != nil {
			return Key{}, err
		}
		k.Conv = parts[0]
	case KindDedup:
		if parts, rest, err = readComponents(rest, 3); err != nil {
			return Key{}, err
		}
		k.Conv, k.Sender, k.ClientMsgID = parts[0], parts[1], parts[2]
	case KindPosition:
		if parts, rest, err = readComponents(rest, 3); err != nil {
			return Key{}, err
		}
		k.User, k.Device, k.Conv = parts[0], parts[1], parts[2]
	case KindGroup, KindApplied:
		if len(rest) < 4 {
			return Key{}, fmt.Errorf("%w: %v key: group has %d bytes, want 4", ErrCorrupt, k.Kind, len(rest))
		}
		k.Group, rest = binary.BigEndian.Uint32(rest), rest[4:]
		if k.Kind == KindGroup {
			if parts, rest, err = readComponents(rest, 1); err != nil {
				return Key{}, err
			}
			k.Conv = parts[0]
		}
	default:
		return Key{}, fmt.Errorf("%w: unknown key kind 0x%02x", ErrCorrupt, b[0])
	}
	if len(rest) != 0 {
		return Key{}, fmt.Errorf("%w: %v key: %d trailing bytes", ErrCorrupt, k.Kind, len(rest))
	}
	return k, nil
}

// putUint64 encodes a uint64 value (heads, dedup seqs, positions).
func putUint64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// getUint64 decodes a uint64 value.
func getUint64(b []byte) (uint64, error) {
	if len(b) != seqBytes {
		return 0, fmt.Errorf("%w: uint64 value has %d bytes, want %d", ErrCorrupt, len(b), seqBytes)
	}
	return binary.BigEndian.Uint64(b), nil
}
