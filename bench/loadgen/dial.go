package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/bench/hist"
	"github.com/edgegate/edgegate/bench/metrics"
	"github.com/edgegate/edgegate/client"
	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// env is what every scenario needs: options with defaults and a scraper.
type env struct {
	o       Options
	scraper *metrics.Scraper
	outages outageClock // with Options.Failover
}

func wsURL(addr string) string { return "ws://" + addr + "/v1/ws" }

func newEnv(o Options) (*env, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	sc := &metrics.Scraper{}
	if o.ScrapeDial != nil {
		sc.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: o.ScrapeDial}}
	}
	if o.APIKey != "" {
		sc.Header = http.Header{"Authorization": {"Bearer " + o.APIKey}}
	}
	return &env{o: o, scraper: sc, outages: outageClock{h: hist.New()}}, nil
}

// clientSpec describes one benchmark client.
type clientSpec struct {
	index int // global index: picks the edge and the source address
	// pairEdge puts the clients of a pair (indexes 2k and 2k+1) on one
	// edge (edge k) instead of spreading them (ChatOptions.SameEdge).
	pairEdge bool
	user     string
	convs    []string
	rooms    []string
	buffer   int // Messages() capacity
	// onMessage, when set, receives messages on the SDK's reader
	// (client.Config.OnMessage) instead of the Messages() channel.
	onMessage func(*pb.Message)
}

// dial connects one client, retrying transient failures (HTTP 429/503,
// refused connections) with the SDK's backoff until ctx ends.
func (e *env) dial(ctx context.Context, s clientSpec) (*client.Client, error) {
	tok, err := auth.MintHS256(e.o.Secret, auth.MintClaims{
		Subject: s.user, Convs: s.convs, Rooms: s.rooms,
		TTL: e.o.ConnectTimeout + e.o.Duration + e.o.Drain + time.Hour,
	})
	if err != nil {
		return nil, err
	}
	edge := s.index
	if s.pairEdge {
		edge = s.index / 2
	}
	cfg := client.Config{
		URL:           wsURL(e.o.Addrs[edge%len(e.o.Addrs)]),
		Token:         tok,
		DeviceID:      "d-" + s.user,
		MessageBuffer: s.buffer,
		OnMessage:     s.onMessage,
		MinBackoff:    50 * time.Millisecond,
		MaxBackoff:    2 * time.Second,
	}
	if e.o.Failover {
		for i := 1; i < len(e.o.Addrs); i++ {
			cfg.AlternateURLs = append(cfg.AlternateURLs, wsURL(e.o.Addrs[(edge+i)%len(e.o.Addrs)]))
		}
		cfg.OnStateChange = e.outages.track()
	}
	if e.o.SourceIPs > 1 {
		ip := net.IPv4(127, 0, 0, byte(1+s.index%e.o.SourceIPs))
		cfg.Dial = dialFrom(ip, client.DefaultHandshakeTimeout, nil)
	}
	if e.o.NoCompression {
		cfg.Compression = []transport.Codec{transport.CodecNone}
	}
	if err := e.applyTransport(&cfg, edge); err != nil {
		return nil, err
	}
	return client.Dial(ctx, cfg)
}

// connectAll dials n clients (global indexes base..base+n-1) with bounded
// concurrency. after, when set, runs on each connected client (e.g. to join
// a room); a client whose after fails is closed and counted as an error.
// The returned slice has nil for clients that failed.
func (e *env) connectAll(ctx context.Context, base, n int, spec func(i int) clientSpec,
	after func(ctx context.Context, local int, c *client.Client) error) (cls []*client.Client, failed int, firstErr error) {
	ctx, cancel := context.WithTimeout(ctx, e.o.ConnectTimeout)
	defer cancel()
	cls = make([]*client.Client, n)
	sem := make(chan struct{}, e.o.DialConcurrency)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		nFailed   int
		connected atomic.Int64
	)
	start := time.Now()
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			mu.Lock()
			nFailed += n - i
			if firstErr == nil {
				firstErr = fmt.Errorf("loadgen: connect: %w", ctx.Err())
			}
			mu.Unlock()
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := e.dial(ctx, spec(base+i))
			if err == nil && after != nil {
				if err = after(ctx, i, c); err != nil {
					_ = c.Close()
				}
			}
			if err != nil {
				mu.Lock()
				nFailed++
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				return
			}
			cls[i] = c
			if k := connected.Add(1); k%1000 == 0 {
				e.o.Logger.Info("connecting", "connected", k, "of", n, "elapsed", time.Since(start).Round(time.Millisecond))
			}
		})
	}
	wg.Wait()
	return cls, nFailed, firstErr
}

// closeAll closes clients with bounded concurrency.
func (e *env) closeAll(cls []*client.Client) {
	sem := make(chan struct{}, e.o.DialConcurrency)
	var wg sync.WaitGroup
	for _, c := range cls {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = c.Close()
		})
	}
	wg.Wait()
}

// reconnects sums the clients' reconnect counters.
func reconnects(cls []*client.Client) uint64 {
	var n uint64
	for _, c := range cls {
		if c != nil {
			n += c.Stats().Reconnects
		}
	}
	return n
}

func countLive(cls []*client.Client) int {
	n := 0
	for _, c := range cls {
		if c != nil {
			n++
		}
	}
	return n
}

// applyTransport points cfg at QUIC for the "quic-stream", "quic-fec",
// "quic-fec-inquic" and "auto" transports.
func (e *env) applyTransport(cfg *client.Config, index int) error {
	switch e.o.Transport {
	case "", "ws":
		return nil
	case "quic-stream", "quic-fec", "quic-fec-inquic", "auto":
	default:
		return fmt.Errorf("%w: transport %q (want ws, quic-stream, quic-fec, quic-fec-inquic or auto)", ErrConfig, e.o.Transport)
	}
	if len(e.o.QUICAddrs) == 0 {
		return fmt.Errorf("%w: transport %s needs the edges' QUIC addresses", ErrConfig, e.o.Transport)
	}
	pin, err := transport.PinnedTLSConfig(e.o.QUICCertSHA256)
	if err != nil {
		return err
	}
	addr := e.o.QUICAddrs[index%len(e.o.QUICAddrs)]
	switch e.o.Transport {
	case "quic-stream":
		cfg.URL = client.QUICScheme + addr
	case "quic-fec":
		cfg.URL = client.QUICFECScheme + addr
	case "quic-fec-inquic": // FEC datagrams inside QUIC (DATAGRAM frames)
		cfg.URL = client.QUICFECScheme + addr + "?datagrams=quic"
	default: // auto: WebSocket, moving to quic-fec when the link degrades
		cfg.Fallback = &client.Fallback{QUICURL: client.QUICFECScheme + addr, ReturnAfter: e.o.ReturnAfter}
	}
	cfg.Dial = client.DialAny(*cfg, pin)
	return nil
}
