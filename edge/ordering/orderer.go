package ordering

import (
	"context"

	"github.com/edgegate/edgegate/transport/pb"
)

// Request is one message to order.
type Request struct {
	Conv         string // conversation id; required
	Sender       string // sending user id; required
	SenderDevice string // sending device id
	// ClientMsgID makes the request idempotent: a request with the same
	// (Conv, Sender, ClientMsgID) as a stored message returns that message
	// with Duplicate set. Empty means no deduplication.
	ClientMsgID string
	Body        []byte // opaque payload; not copied, must not be modified after Append
	// ServerTimeMs is the server timestamp to record; 0 means "now" at
	// sequencing time.
	ServerTimeMs int64
}

// Result is the outcome of a successful Append.
type Result struct {
	// Msg is the stored message. It is shared (with OnCommit and other
	// callers) and must be treated as read-only.
	Msg *pb.Message
	// Duplicate reports that Msg was stored by an earlier request with the
	// same (Conv, Sender, ClientMsgID); nothing new was written.
	Duplicate bool
}

// Orderer assigns each conversation a gap-free sequence and stores messages
// durably. Implementations are safe for concurrent use.
type Orderer interface {
	// Append orders and durably stores r. It returns only after the message
	// is durable (fsynced, or replicated) and is idempotent on
	// (Conv, Sender, ClientMsgID). If ctx ends first it returns ctx.Err()
	// and the message may still be stored.
	Append(ctx context.Context, r Request) (Result, error)
	// Read returns up to limit messages of conv with seq > after, ascending.
	Read(ctx context.Context, conv string, after uint64, limit int) ([]*pb.Message, error)
	// History returns up to limit messages of conv with seq < before
	// (before 0: from the newest), newest first.
	History(ctx context.Context, conv string, before uint64, limit int) ([]*pb.Message, error)
	// Head returns the last committed seq of conv (0 if none).
	Head(ctx context.Context, conv string) (uint64, error)
	// Close stops the orderer; pending Appends fail with ErrClosed.
	Close() error
}

// Validate checks what every Orderer requires of a request (Conv and
// Sender set, ids valid UTF-8); errors wrap ErrInvalidRequest.
func (r *Request) Validate() error { return validate(r) }
