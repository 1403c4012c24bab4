package fec

import (
	"encoding/binary"
	"fmt"
)

// Version is the packet format version written in every header.
const Version = 1

// HeaderSize is the size of the fixed packet header in bytes:
//
//	byte 0     version (1)
//	byte 1     kind (Kind)
//	bytes 2-5  group id, big endian, wraps around
//	byte 6     index of the shard within the group (data 0..k-1, parity k..k+m-1)
//	byte 7     k: data shards of the group
//	byte 8     m: parity shards of the group
//	bytes 9-10 length of the body, big endian; must equal the rest of the datagram
//
// The body of a data packet is the payload; of a parity packet, one parity
// shard; of a feedback packet, FeedbackSize bytes (see Packet).
const HeaderSize = 11

// ShardPrefix is the length prefix stored in front of every data shard: a
// data shard is [2-byte payload length][payload][zero padding], padded to
// the group's largest payload, so a recovered shard gives back the exact
// payload.
const ShardPrefix = 2

// FeedbackSize is the body size of a feedback packet: loss rate in parts
// per million (4 bytes) and mean loss burst length in hundredths (2 bytes).
const FeedbackSize = 6

// DefaultMaxDatagram is the default limit on a whole datagram, header
// included. 1200 bytes fits a QUIC DATAGRAM frame on any path QUIC accepts.
const DefaultMaxDatagram = 1200

// MaxShards is the largest k+m of a group (indexes are one byte).
const MaxShards = 255

// Kind is the packet kind.
type Kind uint8

// Packet kinds.
const (
	// KindData carries one payload, sent as soon as the caller hands it over.
	KindData Kind = 1
	// KindParity carries one Reed-Solomon parity shard of a group.
	KindParity Kind = 2
	// KindFeedback carries the receiver's loss report to the sender.
	KindFeedback Kind = 3
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindParity:
		return "parity"
	case KindFeedback:
		return "feedback"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Packet is one decoded datagram.
//
// For data packets K and M are the group size the sender planned when it
// sent the packet; a group flushed early is smaller, and its parity packets
// carry the actual k (Index < K always holds). For parity packets K and M
// are the actual group size and Payload is the parity shard. For feedback
// packets Group is the highest group the receiver has seen, Index, K, M are
// zero and Payload is empty.
type Packet struct {
	Kind    Kind
	Group   uint32
	Index   uint8
	K       uint8
	M       uint8
	Payload []byte
	// LossPPM is the observed loss rate in parts per million (feedback only).
	LossPPM uint32
	// BurstX100 is the mean loss burst length in hundredths of a packet
	// (feedback only).
	BurstX100 uint16
}

// ID names one data packet: its group and its index in the group.
type ID struct {
	Group uint32
	Index uint8
}

// Limits bound what ParsePacket and MarshalPacket accept.
type Limits struct {
	// MaxDatagram limits the whole datagram, header included. Zero means
	// DefaultMaxDatagram.
	MaxDatagram int
}

func (l Limits) max() int {
	if l.MaxDatagram <= 0 {
		return DefaultMaxDatagram
	}
	return l.MaxDatagram
}

// maxPayload is the largest data payload under a datagram limit: the parity
// shard covering it (payload plus ShardPrefix) must fit in a datagram too.
func maxPayload(maxDatagram int) int {
	return maxDatagram - HeaderSize - ShardPrefix
}

// check validates p against the format rules and the limit.
func (p *Packet) check(lim Limits) error {
	if HeaderSize+len(p.Payload) > lim.max() {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, HeaderSize+len(p.Payload), lim.max())
	}
	switch p.Kind {
	case KindData, KindParity:
		if p.LossPPM != 0 || p.BurstX100 != 0 {
			return fmt.Errorf("%w: feedback fields on a %v packet", ErrBadFeedback, p.Kind)
		}
		k, m, i := int(p.K), int(p.M), int(p.Index)
		if k == 0 || k+m > MaxShards {
			return fmt.Errorf("%w: k=%d m=%d", ErrBadGroup, k, m)
		}
		if p.Kind == KindData {
			if i >= k {
				return fmt.Errorf("%w: data index %d, k=%d", ErrBadGroup, i, k)
			}
			if len(p.Payload) > maxPayload(lim.max()) {
				return fmt.Errorf("%w: payload of %d bytes, limit %d", ErrTooLarge, len(p.Payload), maxPayload(lim.max()))
			}
			return nil
		}
		if m == 0 || i < k || i >= k+m {
			return fmt.Errorf("%w: parity index %d, k=%d m=%d", ErrBadGroup, i, k, m)
		}
		if len(p.Payload) < ShardPrefix {
			return fmt.Errorf("%w: parity shard of %d bytes", ErrTruncated, len(p.Payload))
		}
		return nil
	case KindFeedback:
		if p.Index != 0 || p.K != 0 || p.M != 0 || len(p.Payload) != 0 {
			return fmt.Errorf("%w: group fields or payload set", ErrBadFeedback)
		}
		if p.LossPPM > 1_000_000 {
			return fmt.Errorf("%w: loss %d ppm", ErrBadFeedback, p.LossPPM)
		}
		return nil
	}
	return fmt.Errorf("%w: %d", ErrBadKind, uint8(p.Kind))
}

// AppendPacket appends the encoding of p to dst. It rejects packets that
// ParsePacket would reject, so everything it writes parses back to p.
func AppendPacket(dst []byte, p Packet, lim Limits) ([]byte, error) {
	if err := p.check(lim); err != nil {
		return dst, err
	}
	body := len(p.Payload)
	if p.Kind == KindFeedback {
		body = FeedbackSize
	}
	dst = append(dst, Version, byte(p.Kind))
	dst = binary.BigEndian.AppendUint32(dst, p.Group)
	dst = append(dst, p.Index, p.K, p.M)
	dst = binary.BigEndian.AppendUint16(dst, uint16(body))
	if p.Kind == KindFeedback {
		dst = binary.BigEndian.AppendUint32(dst, p.LossPPM)
		return binary.BigEndian.AppendUint16(dst, p.BurstX100), nil
	}
	return append(dst, p.Payload...), nil
}

// MarshalPacket returns the encoding of p.
func MarshalPacket(p Packet, lim Limits) ([]byte, error) {
	n := HeaderSize + len(p.Payload)
	if p.Kind == KindFeedback {
		n = HeaderSize + FeedbackSize
	}
	return AppendPacket(make([]byte, 0, n), p, lim)
}

// ParsePacket decodes one datagram. The returned packet's Payload aliases b.
func ParsePacket(b []byte, lim Limits) (Packet, error) {
	if len(b) > lim.max() {
		return Packet{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), lim.max())
	}
	if len(b) < HeaderSize {
		return Packet{}, fmt.Errorf("%w: header is %d bytes", ErrTruncated, len(b))
	}
	if b[0] != Version {
		return Packet{}, fmt.Errorf("%w: %d", ErrBadVersion, b[0])
	}
	p := Packet{
		Kind:  Kind(b[1]),
		Group: binary.BigEndian.Uint32(b[2:6]),
		Index: b[6],
		K:     b[7],
		M:     b[8],
	}
	n := int(binary.BigEndian.Uint16(b[9:11]))
	rest := b[HeaderSize:]
	if len(rest) != n {
		if len(rest) < n {
			return Packet{}, fmt.Errorf("%w: have %d of %d body bytes", ErrTruncated, len(rest), n)
		}
		return Packet{}, fmt.Errorf("%w: %d bytes", ErrTrailing, len(rest)-n)
	}
	if p.Kind == KindFeedback {
		if n != FeedbackSize {
			return Packet{}, fmt.Errorf("%w: body of %d bytes", ErrBadFeedback, n)
		}
		p.LossPPM = binary.BigEndian.Uint32(rest)
		p.BurstX100 = binary.BigEndian.Uint16(rest[4:])
	} else if n > 0 {
		p.Payload = rest
	}
	if err := p.check(lim); err != nil {
		return Packet{}, err
	}
	return p, nil
}
