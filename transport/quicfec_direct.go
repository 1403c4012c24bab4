package transport

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/quic-go/quic-go"
)

// QUICFECDirectALPN is the TLS application protocol of mode quic-fec with
// direct datagrams (the default): FEC packets travel beside the QUIC
// connection, on the same UDP socket, instead of inside it as QUIC
// DATAGRAM frames (QUICFECALPN). See directPath for why.
const QUICFECDirectALPN = "edgegate-fec/2"

// QUICFECDirectAcksALPN is QUICFECDirectALPN whose direct datagrams may
// also carry the receiver's acknowledgement and loss report (see
// appendDatagramAcks), so a chat connection's acks ride the datagrams
// already going the other way instead of each costing a QUIC packet on
// the control stream and QUIC's ACK of it. Clients offer it first.
const QUICFECDirectAcksALPN = "edgegate-fec/3"

// Direct datagrams. A direct packet is
//
//	byte 0      directTag (its two high bits are 0, so quic-go, which
//	            shares the socket, hands it to ReadNonQUICPacket instead
//	            of parsing it as QUIC)
//	8 bytes     connection id (server demultiplexing)
//	4 bytes     packet number, big endian, per direction
//	rest        AES-128-GCM sealed FEC datagram (16-byte tag)
//
// The first 13 bytes are the additional data; the nonce is the
// direction's IV XOR the packet number. Keys, IVs and the connection id
// come from the TLS 1.3 exporter of the QUIC handshake (RFC 8446 7.5), so
// both ends derive them without a message, and a packet that
// authenticates comes from the peer of that handshake. The packet number
// never repeats under one key: the connection ends before it would wrap.
const (
	directTag      byte = 0x21
	directIDLen         = 8
	directHeader        = 1 + directIDLen + 4
	directOverhead      = directHeader + 16
	directKeyLen        = 16
	directIVLen         = 12
	// directInQueue bounds received packets waiting for the connection's
	// reader; beyond it they are dropped (and counted as lost).
	directInQueue = 256
)

// Exporter labels of the direct path's secrets.
const (
	directLabelID  = "EXPORTER-edgegate-fec-direct id"
	directLabelC2S = "EXPORTER-edgegate-fec-direct client"
	directLabelS2C = "EXPORTER-edgegate-fec-direct server"
)

// errPacketNumbersExhausted ends a connection that sent 2^32 direct
// packets (a nonce must never repeat under one key).
var errPacketNumbersExhausted = errors.New("transport: quic-fec: direct packet numbers exhausted")

// directPath carries a quic-fec connection's FEC datagrams as UDP packets
// of their own beside the QUIC connection, outside QUIC's congestion
// control.
//
// Why: QUIC DATAGRAM frames count against QUIC's loss-based congestion
// window. On a path with random loss (the paths quic-fec exists for) that
// window shrinks with every loss, although FEC already repairs it, and at
// 10% loss and 200 ms RTT it held about two packets: datagrams queued
// behind it and p99 latency tripled (bench/README.md). quic-go has no
// pluggable congestion controller. Direct packets are bounded instead by
// the connection's frame window (DefaultFECWindow frames unread), the
// pacer (one packet per fecSpacing while it keeps up) and a per-connection
// rate cap (QUICConfig.FECMaxRate): enough for chat and danmaku, by design
// not a path for bulk transfer. The control stream (acks, NACKs,
// retransmissions) stays inside QUIC, congestion controlled.
//
// Loss is measured from packet numbers: the receiver reports in its acks
// how many direct packets arrived and the highest number seen
// (ctlLossReport), and the sender adapts parity to the difference.
type directPath struct {
	tr   *quic.Transport
	id   [directIDLen]byte
	seal cipher.AEAD // this side's direction
	open cipher.AEAD // the peer's direction
	siv  [directIVLen]byte
	riv  [directIVLen]byte

	pn atomic.Uint64 // next packet number to send
	// remote is where direct packets go: the QUIC connection's remote
	// address, which QUIC validates (path validation on a NAT rebinding),
	// never the source of a direct packet, which an on-path attacker
	// could race a captured packet from to redirect the datagrams.
	remote func() net.Addr
	in     chan []byte
	// dropped counts packets that did not authenticate, repeats, and
	// packets that found the queue full (FECCounters.DirectDropped).
	dropped *atomic.Uint64

	mu      sync.Mutex // receive accounting
	rcvd    uint64     // packets that authenticated, repeats left out
	highest uint64     // one past the highest packet number that did
	window  uint64     // bit i: packet highest-1-i arrived (replay check)
	counted uint64     // missing packets already counted as lost (newLost)
	sbuf    []byte     // send buffer (pacer goroutine only)
}

// newDirectPath derives the path's secrets from the connection's TLS
// exporter. server tells which direction this side sends in.
func newDirectPath(qc *quic.Conn, tr *quic.Transport, server bool, dropped *atomic.Uint64) (*directPath, error) {
	cs := qc.ConnectionState().TLS
	export := func(label string, n int) ([]byte, error) {
		b, err := cs.ExportKeyingMaterial(label, nil, n)
		if err != nil {
			return nil, fmt.Errorf("transport: quic-fec direct keys: %w", err)
		}
		return b, nil
	}
	id, err := export(directLabelID, directIDLen)
	if err != nil {
		return nil, err
	}
	c2s, err := export(directLabelC2S, directKeyLen+directIVLen)
	if err != nil {
		return nil, err
	}
	s2c, err := export(directLabelS2C, directKeyLen+directIVLen)
	if err != nil {
		return nil, err
	}
	p, err := newDirectPathKeys(id, c2s, s2c, server, dropped)
	if err != nil {
		return nil, err
	}
	p.tr, p.remote = tr, qc.RemoteAddr
	return p, nil
}

// newDirectPathKeys builds a path from its secrets: the connection id and
// each direction's key and IV.
func newDirectPathKeys(id, c2s, s2c []byte, server bool, dropped *atomic.Uint64) (*directPath, error) {
	if server {
		c2s, s2c = s2c, c2s // the server seals with s2c, opens with c2s
	}
	p := &directPath{in: make(chan []byte, directInQueue), dropped: dropped}
	copy(p.id[:], id)
	var err error
	if p.seal, err = gcm(c2s[:directKeyLen]); err != nil {
		return nil, err
	}
	if p.open, err = gcm(s2c[:directKeyLen]); err != nil {
		return nil, err
	}
	copy(p.siv[:], c2s[directKeyLen:])
	copy(p.riv[:], s2c[directKeyLen:])
	return p, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("transport: quic-fec direct keys: %w", err)
	}
	return cipher.NewGCM(b)
}

// nonce is iv XOR the packet number (in the last 4 bytes).
func nonce(iv *[directIVLen]byte, pn uint32) [directIVLen]byte {
	n := *iv
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], pn)
	for i := range b {
		n[directIVLen-4+i] ^= b[i]
	}
	return n
}

// send seals one FEC datagram and sends it to the peer. One goroutine
// (the pacer) sends.
func (p *directPath) send(dgram []byte) (int, error) {
	b, err := p.sealNext(p.sbuf[:0], dgram)
	if err != nil {
		return 0, err
	}
	p.sbuf = b
	return p.tr.WriteTo(b, p.remote())
}

// sealNext appends the next direct packet carrying dgram to dst.
func (p *directPath) sealNext(dst, dgram []byte) ([]byte, error) {
	pn := p.pn.Add(1) - 1
	if pn > 0xffffffff {
		return dst, errPacketNumbersExhausted
	}
	start := len(dst)
	dst = append(dst, directTag)
	dst = append(dst, p.id[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(pn))
	n := nonce(&p.siv, uint32(pn))
	var aad [directHeader]byte // Seal's dst must not overlap its additional data
	copy(aad[:], dst[start:])
	return p.seal.Seal(dst, n[:], dgram, aad[:]), nil
}

// directID returns the connection id of a direct packet (ok false: not
// one).
func directID(b []byte) (id [directIDLen]byte, ok bool) {
	if len(b) < directOverhead || b[0] != directTag {
		return id, false
	}
	copy(id[:], b[1:1+directIDLen])
	return id, true
}

// deliver authenticates a received packet and queues its FEC datagram
// for the connection's reader.
func (p *directPath) deliver(b []byte) {
	if _, ok := directID(b); !ok {
		p.dropped.Add(1)
		return
	}
	pn := binary.BigEndian.Uint32(b[1+directIDLen : directHeader])
	n := nonce(&p.riv, pn)
	dgram, err := p.open.Open(nil, n[:], b[directHeader:], b[:directHeader])
	if err != nil {
		p.dropped.Add(1)
		return
	}
	if !p.record(uint64(pn)) {
		p.dropped.Add(1) // a repeat (the network's, or a replay)
		return
	}
	select {
	case p.in <- dgram:
	default:
		p.dropped.Add(1)
	}
}

// record counts packet pn in the receive accounting; false for a repeat,
// or a packet older than the 64-packet replay window.
func (p *directPath) record(pn uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pn >= p.highest {
		shift := pn + 1 - p.highest
		if shift >= 64 {
			p.window = 0
		} else {
			p.window <<= shift
		}
		p.window |= 1
		p.highest = pn + 1
		p.rcvd++
		return true
	}
	off := p.highest - 1 - pn
	if off >= 64 || p.window&(1<<off) != 0 {
		return false
	}
	p.window |= 1 << off
	p.rcvd++
	return true
}

// lossReport is what the receiver tells the sender: packets that
// arrived, and one past the highest packet number among them.
func (p *directPath) lossReport() (rcvd, highest uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rcvd, p.highest
}

// serveDirect reads the non-QUIC packets of tr's socket and routes them
// until tr closes.
func serveDirect(ctx context.Context, tr *quic.Transport, m *directMux) {
	buf := make([]byte, 2048)
	for {
		n, _, err := tr.ReadNonQUICPacket(ctx, buf)
		if err != nil {
			return
		}
		m.route(buf[:n])
	}
}

// newLost returns how many more packets are missing (below the highest
// number seen) than at the previous call: FECCounters.Lost. A straggler
// arriving later is not taken back.
func (p *directPath) newLost() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	missing := p.highest - p.rcvd
	if missing <= p.counted {
		return 0
	}
	d := missing - p.counted
	p.counted = missing
	return d
}

// directMux routes the direct packets a listener's socket receives to
// their connections by id.
type directMux struct {
	mu    sync.Mutex
	paths map[[directIDLen]byte]*directPath
	// unknown counts packets for no open connection
	// (FECCounters.DirectDropped).
	unknown *atomic.Uint64
}

// add registers a path; false if its id is taken (two connections'
// exporters agreed on 64 bits: the caller refuses the second).
func (m *directMux) add(p *directPath) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.paths == nil {
		m.paths = make(map[[directIDLen]byte]*directPath)
	}
	if _, dup := m.paths[p.id]; dup {
		return false
	}
	m.paths[p.id] = p
	return true
}

// remove unregisters a path.
func (m *directMux) remove(p *directPath) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.paths[p.id] == p {
		delete(m.paths, p.id)
	}
}

// route hands one packet to its connection.
func (m *directMux) route(b []byte) {
	id, ok := directID(b)
	if !ok {
		m.unknown.Add(1)
		return
	}
	m.mu.Lock()
	p := m.paths[id]
	m.mu.Unlock()
	if p == nil {
		m.unknown.Add(1)
		return
	}
	p.deliver(b)
}
