package gossip

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/memberlist"
)

// MaxMetaSize is the largest encoded Meta: memberlist's limit on node
// metadata (memberlist.MetaMaxSize, 512 bytes).
const MaxMetaSize = memberlist.MetaMaxSize

// MaxHealth is the best health score.
const MaxHealth = 100

// metaFormat is the first byte of every encoded Meta. Fields added later are
// appended after the existing ones and ignored by older decoders, so the
// format byte only changes for an incompatible layout, which older decoders
// then reject (counted as a decode error, never a panic).
const metaFormat = 1

// Meta is what a node tells the cluster about itself through memberlist's
// node metadata. It is small (MaxMetaSize encoded) and changes rarely: load
// and health are refreshed on the order of seconds, never per client event.
type Meta struct {
	// NodeID is the node's cluster name (Config.NodeID).
	NodeID string
	// Region and Zone place the node; edge selection prefers the client's
	// region, Raft placement spreads replicas over zones.
	Region string
	Zone   string
	// WSAddr is where clients reach the node over WebSocket: a URL
	// (wss://host:port/path) or host:port.
	WSAddr string
	// QUICAddr is where clients reach the node over QUIC (host:port).
	QUICAddr string
	// NodeAddr is the inter-node link address (host:port).
	NodeAddr string
	// RaftAddr is the node's multiplexed Raft transport address (host:port).
	RaftAddr string
	// Connections is the number of client connections the node holds, and
	// Capacity the number it is sized for (0: unknown).
	Connections uint32
	Capacity    uint32
	// Health is the node's own score, 0 (unusable) to MaxHealth (100).
	Health uint8
	// Draining is set while the node sheds its clients before leaving.
	Draining bool
	// Leaving is set by Cluster.Leave just before the node announces its
	// departure; UpdateMeta cannot change it. Observers use it to report the
	// departure as a leave rather than a failure (see Cluster.Leave).
	Leaving bool
	// ProtocolVersion is the edgegate inter-node protocol version the node
	// speaks.
	ProtocolVersion uint16
}

const (
	flagDraining = 1 << 0
	flagLeaving  = 1 << 1
)

// MarshalBinary encodes m in the compact metadata format:
//
//	format(1) flags(1) health(1) protocolVersion(uvarint) connections(uvarint)
//	capacity(uvarint) then NodeID, Region, Zone, WSAddr, QUICAddr, NodeAddr,
//	RaftAddr, each as uvarint length + UTF-8 bytes.
//
// It fails with ErrInvalidMeta for a health above MaxHealth or a string that
// is not valid UTF-8, and with ErrMetaTooLarge beyond MaxMetaSize.
func (m Meta) MarshalBinary() ([]byte, error) {
	if m.Health > MaxHealth {
		return nil, fmt.Errorf("%w: health %d > %d", ErrInvalidMeta, m.Health, MaxHealth)
	}
	strs := m.strings()
	n := 3 + 3*binary.MaxVarintLen32
	for _, s := range strs {
		if !utf8.ValidString(*s) {
			return nil, fmt.Errorf("%w: string field is not valid UTF-8", ErrInvalidMeta)
		}
		n += binary.MaxVarintLen32 + len(*s)
	}
	b := make([]byte, 0, n)
	var flags byte
	if m.Draining {
		flags |= flagDraining
	}
	if m.Leaving {
		flags |= flagLeaving
	}
	b = append(b, metaFormat, flags, m.Health)
	b = binary.AppendUvarint(b, uint64(m.ProtocolVersion))
	b = binary.AppendUvarint(b, uint64(m.Connections))
	b = binary.AppendUvarint(b, uint64(m.Capacity))
	for _, s := range strs {
		b = binary.AppendUvarint(b, uint64(len(*s)))
		b = append(b, *s...)
	}
	if len(b) > MaxMetaSize {
		return nil, fmt.Errorf("%w: %d bytes > %d", ErrMetaTooLarge, len(b), MaxMetaSize)
	}
	return b, nil
}

// UnmarshalBinary decodes metadata written by MarshalBinary. Bytes after the
// known fields are ignored (fields appended by newer versions). Any other
// malformation is an error wrapping ErrInvalidMeta; it never panics.
func (m *Meta) UnmarshalBinary(b []byte) error {
	if len(b) > MaxMetaSize {
		return fmt.Errorf("%w: %d bytes > %d", ErrMetaTooLarge, len(b), MaxMetaSize)
	}
	if len(b) < 3 {
		return fmt.Errorf("%w: %d bytes, too short", ErrInvalidMeta, len(b))
	}
	if b[0] != metaFormat {
		return fmt.Errorf("%w: unknown format %d", ErrInvalidMeta, b[0])
	}
	var out Meta
	out.Draining = b[1]&flagDraining != 0
	out.Leaving = b[1]&flagLeaving != 0
	out.Health = b[2]
	if out.Health > MaxHealth {
		return fmt.Errorf("%w: health %d > %d", ErrInvalidMeta, out.Health, MaxHealth)
	}
	b = b[3:]
	next := func(limit uint64, what string) (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > limit {
			return 0, fmt.Errorf("%w: bad %s", ErrInvalidMeta, what)
		}
		b = b[n:]
		return v, nil
	}
	pv, err := next(0xffff, "protocol version")
	if err != nil {
		return err
	}
	out.ProtocolVersion = uint16(pv)
	conns, err := next(0xffffffff, "connections")
	if err != nil {
		return err
	}
	out.Connections = uint32(conns)
	capa, err := next(0xffffffff, "capacity")
	if err != nil {
		return err
	}
	out.Capacity = uint32(capa)
	for i, s := range out.strings() {
		l, err := next(MaxMetaSize, fmt.Sprintf("string %d length", i))
		if err != nil {
			return err
		}
		if l > uint64(len(b)) {
			return fmt.Errorf("%w: string %d truncated", ErrInvalidMeta, i)
		}
		if !utf8.Valid(b[:l]) {
			return fmt.Errorf("%w: string %d is not valid UTF-8", ErrInvalidMeta, i)
		}
		*s = string(b[:l])
		b = b[l:]
	}
	*m = out
	return nil
}

// strings lists the string fields in encoding order. New fields go last.
func (m *Meta) strings() []*string {
	return []*string{&m.NodeID, &m.Region, &m.Zone, &m.WSAddr, &m.QUICAddr, &m.NodeAddr, &m.RaftAddr}
}
