package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/edgegate/edgegate/transport/pb"
)

// Conn is a message-oriented connection carrying encoded frames. The
// WebSocket implementation is in ws.go; QUIC implementations plug in behind
// the same interface.
//
// Concurrency: ReadFrame is called by one goroutine at a time; WriteFrame
// and WriteShared by one goroutine at a time (they may run concurrently with
// ReadFrame); Close may be called at any time from any goroutine and makes
// blocked calls return.
type Conn interface {
	// ReadFrame returns the next complete frame's bytes. The slice is valid
	// until the next call. It returns a *CloseError when the peer closed
	// with a code, and an error wrapping net.ErrClosed after Close.
	ReadFrame(ctx context.Context) ([]byte, error)
	// WriteFrame sends one encoded frame. The slice may be reused after it
	// returns.
	WriteFrame(ctx context.Context, frame []byte) error
	// WriteShared sends a frame that is sent, unchanged, to many
	// connections; transports may cache a prepared form of it.
	WriteShared(ctx context.Context, f *SharedFrame) error
	// Close closes the connection, telling the peer code and reason when
	// the transport can.
	Close(code CloseCode, reason string) error
	// Stats returns counters for the connection.
	Stats() Stats
	// RemoteAddr is the peer's network address.
	RemoteAddr() net.Addr
	// Transport names the transport: "ws", "quic-stream" or "quic-fec".
	Transport() string
}

// Lingerer is implemented by connections that can close without resetting
// a peer that is still sending (see wsConn.CloseLinger): the close code then
// reaches a client that sent an oversized or malformed frame, or flooded.
type Lingerer interface {
	// CloseLinger closes like Close, then discards the peer's input for
	// at most d before releasing the socket. Only the goroutine that
	// reads the connection may call it.
	CloseLinger(code CloseCode, reason string, d time.Duration) error
}

// FrameSizer is implemented by connections that carry frames up to some
// size more cheaply than larger ones (quic-fec: a frame that fits one
// datagram gets FEC; a larger one goes on the stream, where loss costs a
// retransmission). Writers that can split their output (the edge's
// Deliver batches) keep frames at or below PreferredFrameBytes.
type FrameSizer interface {
	PreferredFrameBytes() int
}

// Stats are a connection's counters and link measurements.
type Stats struct {
	FramesIn, FramesOut uint64
	BytesIn, BytesOut   uint64
	// RTT is the latest round-trip estimate (transport or ping), 0 if unknown.
	RTT time.Duration
	// Retransmits counts transport retransmissions, when the transport
	// knows (quic-fec: frames sent again because FEC could not rebuild them).
	Retransmits uint64
	// Recovered counts packets rebuilt by forward error correction
	// (quic-fec only).
	Recovered uint64
	// FECDataPackets counts frames sent as FEC data packets and
	// Unrecoverable those of them the peer could not rebuild and NACKed
	// (quic-fec only): their ratio is the residual loss FEC leaves to
	// retransmission (FECCounters.DataPackets and NackedData, for one
	// connection).
	FECDataPackets, Unrecoverable uint64
	// PacketsOut counts packets sent, when the transport knows (TCP data
	// segments on WebSocket, from TCP_INFO); with Retransmits it gives
	// the link's loss rate.
	PacketsOut uint64
	// PacketsIn counts data packets received and OutOfOrderIn those that
	// arrived out of order, when the transport knows (TCP on Linux:
	// tcpi_data_segs_in, tcpi_rcv_ooopack). A segment arriving out of
	// order means one before it is missing, which shows a loss on the
	// path towards this end as soon as the next segment arrives, long
	// before the sender's retransmission timer fires.
	PacketsIn, OutOfOrderIn uint64
	// SendLoss is the sender's estimate of the loss rate of the path from
	// this end, 0..1 (quic-fec only, from the peer's reports of the
	// datagrams it received; 0 elsewhere).
	SendLoss float64
	// LostOut counts the packets sent from this end that the path lost
	// (quic-fec only: from the peer's reports of the datagrams it
	// received, or QUIC's own count inside QUIC).
	LostOut uint64
	// MissingIn counts the peer's datagrams that never arrived here (of
	// the packet numbers up to the highest seen; quic-fec with datagrams
	// beside QUIC only). PacketsIn then counts those that did.
	MissingIn uint64
}

// SharedFrame is an encoded frame sent unchanged to many connections, such
// as one batch of room comments. Encode once, write to every viewer.
type SharedFrame struct {
	data []byte

	mu    sync.Mutex
	cache map[any]any
}

// NewSharedFrame wraps an encoded frame. data must not be modified afterwards.
func NewSharedFrame(data []byte) *SharedFrame { return &SharedFrame{data: data} }

// Bytes returns the encoded frame.
func (f *SharedFrame) Bytes() []byte { return f.data }

// Prepared returns the value cached under key, building it with build on
// first use. Transports use it to keep one prepared form per frame.
func (f *SharedFrame) Prepared(key any, build func([]byte) (any, error)) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.cache[key]; ok {
		return v, nil
	}
	v, err := build(f.data)
	if err != nil {
		return nil, err
	}
	if f.cache == nil {
		f.cache = make(map[any]any, 1)
	}
	f.cache[key] = v
	return v, nil
}

// CloseCode is an application close code. On WebSocket it is sent as the
// close status; codes 4000-4999 map to pb.ErrorCode as 4000+code.
type CloseCode uint16

// Close codes.
const (
	CloseNormal      CloseCode = 1000 // normal closure
	CloseGoingAway   CloseCode = 1001 // server shutting down / drain
	CloseProtocol    CloseCode = 1002 // protocol error (bad frame)
	CloseTooLarge    CloseCode = 1009 // frame over the size limit
	CloseInternal    CloseCode = 1011 // server error
	CloseTryAgain    CloseCode = 1013 // overloaded, try again later
	closeErrorOffset CloseCode = 4000
)

// CloseCodeFor returns the close code carrying an error code (4000+code).
func CloseCodeFor(code pb.ErrorCode) CloseCode { return closeErrorOffset + CloseCode(code) }

// ErrorCode returns the pb.ErrorCode a close code carries, if it is in the
// 4000-4999 range.
func (c CloseCode) ErrorCode() (pb.ErrorCode, bool) {
	if c >= closeErrorOffset && c < closeErrorOffset+1000 {
		return pb.ErrorCode(c - closeErrorOffset), true
	}
	return 0, false
}

// CloseError is returned by ReadFrame when the peer closed the connection
// with a code.
type CloseError struct {
	Code   CloseCode
	Reason string
}

func (e *CloseError) Error() string {
	if ec, ok := e.Code.ErrorCode(); ok {
		return fmt.Sprintf("transport: closed by peer: %d (%v) %s", e.Code, ec, e.Reason)
	}
	return fmt.Sprintf("transport: closed by peer: %d %s", e.Code, e.Reason)
}

// CloseStatus returns the close code carried by err, if it has one.
func CloseStatus(err error) (CloseCode, bool) {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code, true
	}
	return 0, false
}
