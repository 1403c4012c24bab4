package edge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/edge/limits"
	"github.com/edgegate/edgegate/edge/ordering"
	"github.com/edgegate/edgegate/edge/store"
	"github.com/edgegate/edgegate/gossip"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// Orderer is the ordering seam: it assigns each conversation a gap-free
// sequence and stores messages durably before Append returns. The single
// node implementation is ordering.Local on the pebble store; the Raft issue
// implements it with replicated groups. It calls the hook given at
// construction (OnCommit) with every committed message, which feeds the
// router on every replica.
type Orderer interface {
	Append(ctx context.Context, r ordering.Request) (ordering.Result, error)
	Read(ctx context.Context, conv string, after uint64, limit int) ([]*pb.Message, error)
	History(ctx context.Context, conv string, before uint64, limit int) ([]*pb.Message, error)
	Head(ctx context.Context, conv string) (uint64, error)
	Close() error
}

// Server is one edge node: client sessions over WebSocket, ordered chat,
// live rooms, the backend HTTP API and metrics.
type Server struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	started time.Time

	store        *store.Store
	ord          Orderer
	local        *ordering.Local // single-node ordering, or nil
	repl         *replication    // Raft ordering (Config.RaftListen), or nil
	cluster      *gossip.Cluster // cluster membership (Config.GossipListen), or nil
	health       *healthMonitor  // the node's health score (health.go)
	link         *roomLink       // the inter-node link for rooms (Config.NodeListen), or nil
	presence     *presence       // presence homes (presence_*.go)
	convPres     *convPresence   // conversation presence across nodes (presence_conv.go)
	convLink     *convLink       // conversation presence pushes across nodes (conv_link.go), or nil
	verifier     *auth.Verifier
	resumeSigner *auth.ResumeSigner
	acceptor     *transport.WSAcceptor
	conns        *limits.Counter
	ipLimiter    *limits.KeyedLimiter

	router    *convRouter
	rooms     *roomHub
	detached  *detachedSet
	positions *positionWriter

	mu       sync.Mutex
	sessions map[string]*session   // by logical session id
	byUser   map[string][]*session // by user id (a few devices each)

	devToken string // Dev mode: a ready-to-use token
	handler  http.Handler

	handshakes atomic.Uint64 // completed handshakes, for burstReleaser
	draining   atomic.Bool
	quit       chan struct{}
	closeOnce  sync.Once
	goMu       sync.Mutex // guards goClosed and wg.Add against Close's wg.Wait
	goClosed   bool
	wg         sync.WaitGroup
}

// New opens the store and builds a Server. Call Handler to serve it and
// Shutdown to drain and close it.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if cfg.NodeID == "" {
		h, _ := os.Hostname()
		cfg.NodeID = h
	}
	if cfg.Dev {
		if err := devSecrets(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("edge: invalid config: %w", err)
	}
	if len(cfg.ResumeSecret) == 0 {
		cfg.ResumeSecret = randomBytes(32)
	}
	srv := &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("node", cfg.NodeID),
		sessions: make(map[string]*session),
		byUser:   make(map[string][]*session),
		quit:     make(chan struct{}),
	}
	var err error
	if srv.verifier, err = newVerifier(cfg); err != nil {
		return nil, err
	}
	if srv.resumeSigner, err = auth.NewResumeSigner(cfg.ResumeSecret); err != nil {
		return nil, fmt.Errorf("edge: resume secret: %w", err)
	}
	if srv.acceptor, err = transport.NewWSAcceptor(transport.WSConfig{
		AllowedOrigins:    cfg.AllowedOrigins,
		AllowAllOrigins:   cfg.Dev && len(cfg.AllowedOrigins) == 0,
		MaxFrameBytes:     cfg.MaxFrameBytes,
		WriteTimeout:      cfg.WriteTimeout,
		ReadTimeout:       cfg.HeartbeatInterval * 5 / 2,
		HandshakeTimeout:  cfg.HandshakeTimeout,
		EnableCompression: cfg.EnablePerMessageDeflate,
		// Small read buffers: idle connections dominate an edge's memory;
		// larger frames are read in several fills.
		ReadBufferSize: 512,
	}); err != nil {
		return nil, err
	}
	srv.started = time.Now()
	srv.conns = limits.NewCounter(int64(cfg.MaxConnections))
	ipRate := rate.Limit(cfg.ConnRatePerIP)
	if cfg.ConnRatePerIP < 0 {
		ipRate = rate.Inf
	}
	srv.ipLimiter = limits.NewKeyedLimiter(ipRate, cfg.ConnBurstPerIP, 100000)
	srv.router = newConvRouter()
	srv.rooms = newRoomHub(srv)
	srv.detached = newDetachedSet(cfg.MaxDetached)
	srv.positions = newPositionWriter(srv)

	if srv.store, err = store.Open(cfg.DataDir, store.Options{NoSync: cfg.NoSync, Logger: srv.log}); err != nil {
		return nil, fmt.Errorf("edge: opening store: %w", err)
	}
	if cfg.RaftListen != "" {
		if srv.repl, err = srv.startReplication(); err != nil {
			srv.store.Close()
			return nil, err
		}
		srv.ord = srv.repl.node
		srv.m = newMetrics(func() (float64, float64) {
			st := srv.repl.log.Stats()
			return float64(st.Commits), float64(st.WALSyncs)
		})
		srv.repl.register(srv.m.reg)
	} else {
		srv.local, err = ordering.NewLocal(srv.store, ordering.LocalOptions{
			Window:   cfg.OrderingWindow,
			OnCommit: srv.router.fanout,
		})
		if err != nil {
			srv.store.Close()
			return nil, fmt.Errorf("edge: starting orderer: %w", err)
		}
		srv.ord = srv.local
		srv.m = newMetrics(func() (float64, float64) {
			st := srv.local.Stats()
			return float64(st.Batches), float64(st.Fsyncs)
		})
	}
	srv.health = newHealthMonitor(srv, srv.m.reg)
	srv.presence = newPresence(srv)
	srv.convPres = newConvPresence(srv)
	if cfg.NodeListen != "" {
		if srv.link, err = srv.startLink(); err != nil {
			err = fmt.Errorf("edge: inter-node link: %w", err)
		}
	}
	if cfg.GossipListen != "" && err == nil {
		srv.cluster, err = srv.startCluster()
	}
	if err != nil {
		err = errors.Join(err, srv.link.close())
		if srv.repl != nil {
			err = errors.Join(err, srv.repl.close())
		} else {
			err = errors.Join(err, srv.local.Close())
		}
		return nil, errors.Join(err, srv.store.Close())
	}
	if srv.cluster != nil {
		srv.registerCluster(srv.m.reg)
		srv.followRaftMembership()
	}
	srv.goFunc(srv.refreshClusterMeta)
	if srv.link != nil {
		srv.goFunc(srv.link.watchPeers)
		srv.goFunc(srv.link.interestLoop)
		srv.goFunc(srv.convLink.loop)
	}
	srv.goFunc(srv.presence.loop)
	if cfg.Dev {
		srv.devToken, _ = auth.MintHS256(cfg.AuthHMACSecret, auth.MintClaims{Subject: "demo", Convs: []string{"**"}, Rooms: []string{"**"}, TTL: 24 * time.Hour})
	}
	srv.handler = srv.routes()
	srv.goFunc(srv.background)
	return srv, nil
}

// devSecrets fills in Dev mode's HMAC secret and API key, kept in the data
// directory so tokens stay valid across restarts of a dev edge.
func devSecrets(cfg *Config) error {
	if cfg.DataDir == "" {
		return nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	load := func(name string, gen func() string) (string, error) {
		p := filepath.Join(cfg.DataDir, name)
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
			return string(b), nil
		}
		v := gen()
		return v, os.WriteFile(p, []byte(v), 0o600)
	}
	if len(cfg.AuthHMACSecret) == 0 {
		v, err := load("dev-hmac-secret", func() string { return fmt.Sprintf("%x", randomBytes(32)) })
		if err != nil {
			return fmt.Errorf("edge: dev secret: %w", err)
		}
		cfg.AuthHMACSecret = []byte(v)
	}
	if len(cfg.APIKeys) == 0 {
		v, err := load("dev-api-key", func() string { return fmt.Sprintf("dev-%x", randomBytes(12)) })
		if err != nil {
			return fmt.Errorf("edge: dev API key: %w", err)
		}
		cfg.APIKeys = []string{v}
	}
	return nil
}

// NodeID returns the node's id (the host name unless configured).
func (srv *Server) NodeID() string { return srv.cfg.NodeID }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Handler returns the node's HTTP handler: /v1/ws, the backend API,
// /metrics, /healthz and /readyz.
func (srv *Server) Handler() http.Handler { return srv.handler }

// DevToken returns the demo token minted in Dev mode ("" otherwise).
func (srv *Server) DevToken() string { return srv.devToken }

// APIKey returns the first configured API key (the generated one in Dev
// mode), for printing at start-up.
func (srv *Server) APIKey() string {
	if len(srv.cfg.APIKeys) == 0 {
		return ""
	}
	return srv.cfg.APIKeys[0]
}

// HMACSecret returns the HS256 secret (generated in Dev mode).
func (srv *Server) HMACSecret() []byte { return srv.cfg.AuthHMACSecret }

// goFunc runs f in a goroutine that Close waits for. It reports false, and
// runs nothing, once Close has begun.
func (srv *Server) goFunc(f func()) bool {
	srv.goMu.Lock()
	defer srv.goMu.Unlock()
	if srv.goClosed {
		return false
	}
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		f()
	}()
	return true
}

// background flushes positions, sweeps expired detached sessions and
// releases memory after connection bursts.
func (srv *Server) background() {
	t := time.NewTicker(positionFlushEvery)
	defer t.Stop()
	var burst burstReleaser
	for {
		select {
		case <-srv.quit:
			srv.positions.flush()
			return
		case now := <-t.C:
			srv.positions.flush()
			srv.m.detached.Set(float64(srv.detached.sweep()))
			burst.tick(now, srv.handshakes.Load())
		}
	}
}

// burstReleaser returns memory to the OS once a burst of connections has
// settled. Each handshake leaves garbage (token parsing, store reads) that
// an idle edge would otherwise keep as RSS until the runtime's periodic GC
// and scavenger get to it minutes later; an edge's memory is dominated by
// idle connections, so it pays to collect right after the burst.
type burstReleaser struct {
	lastCount uint64 // handshakes seen at the last tick
	sinceFree uint64 // handshakes since the last release
	quietFrom time.Time
}

const (
	burstMin   = 1000            // handshakes that make a burst
	burstQuiet = 2 * time.Second // how long without handshakes ends it
)

func (b *burstReleaser) tick(now time.Time, count uint64) {
	if count != b.lastCount {
		b.sinceFree += count - b.lastCount
		b.lastCount = count
		b.quietFrom = now
		return
	}
	if b.sinceFree >= burstMin && now.Sub(b.quietFrom) >= burstQuiet {
		b.sinceFree = 0
		debug.FreeOSMemory()
	}
}

var errDraining = errors.New("node is draining")

// register adds a session to the node's indexes.
func (srv *Server) register(s *session) error {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.draining.Load() {
		return errDraining
	}
	srv.sessions[s.id] = s
	srv.byUser[s.user] = append(srv.byUser[s.user], s)
	srv.presence.sessionUp(s.user)
	return nil
}

// endSession unregisters a finished session and keeps its state for resume.
func (srv *Server) endSession(s *session) {
	s.fail(transport.CloseNormal, "")
	st := s.snapshot()
	s.mu.Lock()
	convs := make([]*convSub, 0, len(s.convs))
	for _, cs := range s.convs {
		cs.removed = true
		convs = append(convs, cs)
	}
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, cs := range convs {
		srv.router.remove(cs.conv, s)
	}
	for _, r := range rooms {
		srv.rooms.leave(r, s)
	}
	srv.mu.Lock()
	if srv.sessions[s.id] == s {
		delete(srv.sessions, s.id)
	}
	if list := srv.byUser[s.user]; len(list) > 0 {
		for i, x := range list {
			if x == s {
				list = append(list[:i], list[i+1:]...)
				srv.presence.sessionDown(s.user)
				break
			}
		}
		if len(list) == 0 {
			delete(srv.byUser, s.user)
		} else {
			srv.byUser[s.user] = list
		}
	}
	srv.mu.Unlock()
	if !s.takenOver.Load() && !srv.draining.Load() {
		st.expires = time.Now().Add(srv.cfg.ResumeGrace)
		srv.detached.put(st)
	}
}

// appendOrdered orders one message and builds its Ack.
func (srv *Server) appendOrdered(ctx context.Context, r ordering.Request) (*pb.Ack, error) {
	start := time.Now()
	r.ServerTimeMs = start.UnixMilli()
	res, err := srv.ord.Append(ctx, r)
	if err != nil {
		srv.m.orderedMsgs.WithLabelValues("error").Inc()
		return nil, err
	}
	srv.m.appendSeconds.Observe(time.Since(start).Seconds())
	if res.Duplicate {
		srv.m.orderedMsgs.WithLabelValues("duplicate").Inc()
	} else {
		srv.m.orderedMsgs.WithLabelValues("stored").Inc()
	}
	return &pb.Ack{ClientMsgId: r.ClientMsgID, Conversation: r.Conv, Seq: res.Msg.Seq, ServerTimeMs: res.Msg.ServerTimeMs, Duplicate: res.Duplicate}, nil
}

// disconnectUser closes every session of a user; it returns how many.
func (srv *Server) disconnectUser(user string, reason string) int {
	srv.mu.Lock()
	ss := append([]*session(nil), srv.byUser[user]...)
	srv.mu.Unlock()
	for _, s := range ss {
		s.takenOver.Store(true) // a kicked session is not kept for resume
		s.fail(transport.CloseCodeFor(pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED), reason)
	}
	return len(ss)
}

// leadershipTransferTimeout bounds the hand-over of a draining node's Raft
// groups (each transfer is one election round on a healthy region).
const leadershipTransferTimeout = 5 * time.Second

// Shutdown drains the node: it stops accepting sessions, tells every client
// to reconnect elsewhere (Redirect, then close 1001) after flushing its
// queues, waits for sessions to end (bounded by ctx and DrainTimeout), then
// closes the orderer and the store. The HTTP listener is the caller's to
// stop (http.Server.Shutdown) before or after.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.draining.Store(true)
	ctx, cancel := context.WithTimeout(ctx, srv.cfg.DrainTimeout)
	defer cancel()
	if srv.cluster != nil {
		// Tell the cluster first (edge selection skips draining nodes),
		// leave it last.
		if err := srv.cluster.UpdateMeta(func(m *gossip.Meta) { m.Draining = true }); err != nil {
			srv.log.Debug("cluster: draining flag not advertised", "err", err)
		}
	}
	if srv.repl != nil {
		// Hand the Raft groups this node leads to its peers first, while
		// it still answers them: writes go on under the new leaders
		// instead of waiting for the region to notice this node gone.
		tctx, tcancel := context.WithTimeout(ctx, leadershipTransferTimeout)
		moved, failed := srv.repl.node.TransferLeadership(tctx)
		tcancel()
		if moved+failed > 0 {
			srv.log.Info("draining: Raft leadership handed over", "groups", moved, "failed", failed)
		}
	}
	srv.mu.Lock()
	ss := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		ss = append(ss, s)
	}
	srv.mu.Unlock()
	srv.log.Info("draining", "sessions", len(ss))
	urls := srv.drainRedirectURLs()
	srv.log.Info("drain redirect", "urls", urls)
	redirect, _ := transport.Encode(nil, &pb.Redirect{Reason: "drain", Urls: urls, RetryAfterMs: 0}, nil)
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.enqueueCtrl(redirect) {
				s.closeAfter(transport.CloseGoingAway, "drain")
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		for _, s := range ss {
			s.fail(transport.CloseGoingAway, "drain")
		}
		<-done
	}
	if srv.cluster != nil {
		if err := srv.cluster.Leave(clusterLeaveTimeout); err != nil {
			srv.log.Warn("cluster: leave", "err", err)
		}
	}
	return srv.Close()
}

// Close stops the node at once: closes every connection, waits for the
// node's goroutines, flushes positions and closes the orderer and store.
func (srv *Server) Close() error {
	var err error
	srv.closeOnce.Do(func() {
		srv.draining.Store(true)
		srv.mu.Lock()
		for _, s := range srv.sessions {
			s.fail(transport.CloseGoingAway, "shutdown")
		}
		srv.mu.Unlock()
		close(srv.quit)
		srv.goMu.Lock()
		srv.goClosed = true
		srv.goMu.Unlock()
		// Sessions that finished their handshake while Close ran.
		srv.mu.Lock()
		for _, s := range srv.sessions {
			s.fail(transport.CloseGoingAway, "shutdown")
		}
		srv.mu.Unlock()
		srv.wg.Wait()
		err = srv.link.close()
		if srv.cluster != nil {
			err = errors.Join(err, srv.cluster.Shutdown()) // a no-op after a graceful Leave
		}
		if srv.repl != nil {
			err = errors.Join(err, srv.repl.close(), srv.store.Close())
		} else {
			err = errors.Join(err, srv.local.Close(), srv.store.Close())
		}
	})
	return err
}
