package client

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/transport/pb"
)

// Client is a connection to edgegate that reconnects by itself. All methods
// are safe for concurrent use.
type Client struct {
	cfg      Config
	log      *slog.Logger
	bo       backoff
	fallback *Fallback // with defaults; nil when off

	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	runDone chan struct{}  // closed when the manager goroutine has exited
	bg      sync.WaitGroup // warm dials (warm.go)
	ready   chan struct{}  // closed at the first Connected
	msgs    chan *pb.Message

	state atomic.Int32
	reqID atomic.Uint64
	stats counters
	// lastBurst is when Fallback last started a burst of fast probes
	// (unix ns; see probe_burst.go).
	lastBurst atomic.Int64
	recv      recvState
	lastErr   atomic.Pointer[error] // last connection error, for Dial's report

	// mu guards the fields below. Lock order: mu before recv.mu.
	mu  sync.Mutex
	url string
	// edges are the WebSocket URLs tried in turn when url cannot be
	// reached (Config.URL then AlternateURLs, or a Redirect's URLs), edge
	// the index of url in them (see edges.go).
	edges []string
	edge  int
	// Fallback state (guarded by mu): the WebSocket URL to go back to,
	// whether the session is on the fallback's QUIC URL, and until when
	// QUIC is not tried again after a failed move.
	wsURL            string
	onQUIC           bool
	quicBlockedUntil time.Time
	// warm is the QUIC connection dialled ahead of a move, lastWarm when
	// (see warm.go).
	warm            *warmQUIC
	lastWarm        time.Time
	resumeToken     string
	cur             *connection // nil while disconnected
	pending         map[reqKey]*request
	order           uint64
	subs            map[string]struct{} // conversations subscribed by the app
	rooms           map[string]struct{} // rooms joined by the app
	maxMessageBytes int
	fatal           error // why the client stopped, nil after Close
	dead            bool
}

// Dial creates a Client and returns once its first session is established.
// Transient failures (network errors, overloaded servers) are retried with
// backoff until ctx is done; fatal ones (a rejected token, a forbidden
// Origin, a malformed config) are returned at once. ctx bounds only this
// first connection; the Client lives until Close.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := newClient(cfg)
	go c.run()
	select {
	case <-c.ready:
		return c, nil
	case <-c.runDone:
		err := c.Err()
		if err == nil {
			err = ErrClosed
		}
		return nil, err
	case <-ctx.Done():
		_ = c.Close()
		if p := c.lastErr.Load(); p != nil {
			return nil, fmt.Errorf("client: dial: %w (last error: %w)", ctx.Err(), *p)
		}
		return nil, fmt.Errorf("client: dial: %w", ctx.Err())
	}
}

func newClient(cfg Config) *Client {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:      cfg,
		fallback: cfg.Fallback.withDefaults(),
		log:      cfg.Logger,
		bo:       backoff{min: cfg.MinBackoff, max: cfg.MaxBackoff, randN: cfg.randN},
		ctx:      ctx,
		cancel:   cancel,
		runDone:  make(chan struct{}),
		ready:    make(chan struct{}),
		msgs:     make(chan *pb.Message, cfg.MessageBuffer),
		url:      cfg.URL,
		edges:    edgeList(cfg.URL, cfg.AlternateURLs),
		pending:  make(map[reqKey]*request),
		subs:     make(map[string]struct{}),
		rooms:    make(map[string]struct{}),
	}
	c.recv.init(cfg.Positions)
	return c
}

// Messages returns the channel of delivered messages (unless
// Config.OnMessage is set; the channel then only closes): conversation
// messages in seq order per conversation, without gaps or duplicates, also
// across reconnects; and room (live) comments, which may have gaps (slow
// viewers lose comments; see Stats().LiveDropped). It is closed after the
// client stops.
//
// The application must keep reading it: when it is full the client stops
// reading from the server (back-pressure), which also delays responses to
// Send and other requests.
func (c *Client) Messages() <-chan *pb.Message { return c.msgs }

// Positions returns the last seq delivered to the application per
// conversation (only conversations from which something was delivered or
// whose position was set). Persist it to continue from there with
// Config.Positions after a restart.
//
// "Delivered" includes messages waiting in the Messages buffer: persist
// Positions only once the application has processed what it read, or
// (exact in every case) keep the highest Seq per Conversation of the
// messages the application processed and pass that as Config.Positions.
// When the buffer is full and the application has just read a message,
// Positions may not count that message for a moment; with OnMessage it
// always does, from before the handler runs.
func (c *Client) Positions() map[string]uint64 { return c.recv.snapshot() }

// State returns the current connection state.
func (c *Client) State() State { return State(c.state.Load()) }

// Err returns the fatal error that stopped the client (for example a
// rejected token), or nil while it runs or after a plain Close.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fatal
}

// Done returns a channel closed when the client has stopped (after Close or
// a fatal error).
func (c *Client) Done() <-chan struct{} { return c.runDone }

// Close stops the client: it flushes a last DeliveryAck (best effort),
// closes the connection, fails pending requests with ErrClosed, closes
// Messages() and waits for all goroutines. It is safe to call more than
// once.
func (c *Client) Close() error {
	c.cancel()
	<-c.runDone
	c.bg.Wait()
	return nil
}

func (c *Client) setState(s State) {
	if State(c.state.Swap(int32(s))) == s {
		return
	}
	c.log.Debug("client: state", "state", s)
	if f := c.cfg.OnStateChange; f != nil {
		f(s)
	}
}

// closedErr is the error returned by calls on a stopped client.
func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fatal != nil {
		return fmt.Errorf("%w: %w", ErrClosed, c.fatal)
	}
	return ErrClosed
}

// finish runs when the manager goroutine exits: it records the fatal error,
// fails every pending request and closes Messages().
func (c *Client) finish(fatal error) {
	c.mu.Lock()
	c.fatal = fatal
	c.dead = true
	pend := c.pending
	c.pending = make(map[reqKey]*request)
	c.mu.Unlock()
	c.dropWarm()
	err := c.closedErr()
	for _, r := range pend {
		r.complete(nil, err)
	}
	if fatal != nil {
		c.log.Warn("client: stopped", "err", fatal)
	}
	close(c.msgs)
	c.setState(StateClosed)
	c.cancel()
}

// sleep waits d or until the client closes; it reports whether d elapsed.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.runDone:
		return c.closedErr()
	}
}
