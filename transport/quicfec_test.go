package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fecPair dials a quic-fec connection to a fresh listener, optionally
// through a lossy UDP relay, and returns both ends.
func fecPair(t *testing.T, relay func(t *testing.T, to string) string, counters *FECCounters, window int) (client, server Conn) {
	return fecPairCfg(t, relay, counters, QUICConfig{FECWindow: window})
}

// fecPairCfg is fecPair with both ends' FEC settings taken from base.
func fecPairCfg(t *testing.T, relay func(t *testing.T, to string) string, counters *FECCounters, base QUICConfig) (client, server Conn) {
	t.Helper()
	scfg, ccfg := base, base
	scfg.FECCounters = counters
	ln, pin := startQUICWith(t, scfg)
	addr := ln.Addr().String()
	if relay != nil {
		addr = relay(t, addr)
	}
	ccfg.TLS, ccfg.FECCounters = pin, counters
	c, s := dialAccept(t, ln, func(ctx context.Context) (Conn, error) { return DialQUICFEC(ctx, addr, ccfg) })
	if c.Transport() != "quic-fec" || s.Transport() != "quic-fec" {
		t.Fatalf("transports %q %q", c.Transport(), s.Transport())
	}
	t.Cleanup(func() {
		c.Close(CloseNormal, "")
		s.Close(CloseNormal, "")
		waitFECClosed(t, c, s)
	})
	return c, s
}

func waitFECClosed(t *testing.T, conns ...Conn) {
	t.Helper()
	for _, c := range conns {
		select {
		case <-c.(*fecConn).done:
		case <-time.After(10 * time.Second):
			t.Errorf("quic-fec connection still running 10 s after Close")
		}
	}
}

// lossyRelay forwards UDP between one client and to, dropping each packet
// with probability loss in each direction (seeded, so a run's loss pattern
// depends only on packet order).
func lossyRelay(loss float64, seed uint64) func(t *testing.T, to string) string {
	return delayedLossyRelay(loss, 0, seed)
}

// delayedLossyRelay is lossyRelay that also delays every packet by
// oneWay.
func delayedLossyRelay(loss float64, oneWay time.Duration, seed uint64) func(t *testing.T, to string) string {
	return func(t *testing.T, to string) string {
		t.Helper()
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		up, err := net.Dial("udp", to)
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu     sync.Mutex
			rng    = rand.New(rand.NewPCG(seed, seed))
			client atomic.Pointer[net.Addr]
			wg     sync.WaitGroup
		)
		var pending sync.WaitGroup
		later := func(d time.Duration, fn func()) {
			if d == 0 {
				fn()
				return
			}
			pending.Add(1)
			time.AfterFunc(d, func() { defer pending.Done(); fn() })
		}
		drop := func() bool {
			mu.Lock()
			defer mu.Unlock()
			return rng.Float64() < loss
		}
		wg.Add(2)
		go func() { // client -> server
			defer wg.Done()
			buf := make([]byte, 65536)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				client.Store(&from)
				if !drop() {
					b := append([]byte(nil), buf[:n]...)
					later(oneWay, func() { _, _ = up.Write(b) })
				}
			}
		}()
		go func() { // server -> client
			defer wg.Done()
			buf := make([]byte, 65536)
			for {
				n, err := up.Read(buf)
				if err != nil {
					return
				}
				if to := client.Load(); to != nil && !drop() {
					b := append([]byte(nil), buf[:n]...)
					later(oneWay, func() { _, _ = pc.WriteTo(b, *to) })
				}
			}
		}()
		t.Cleanup(func() {
			pc.Close()
			up.Close()
			wg.Wait()
			pending.Wait()
		})
		return pc.LocalAddr().String()
	}
}

// numbered makes frame i of a stream: a valid edgegate frame whose body
// carries i, of a size that varies with i (some too large for a datagram).
func numbered(t *testing.T, i int) []byte {
	body := make([]byte, 8+(i*37)%900)
	if i%50 == 7 {
		body = make([]byte, 3000) // goes on the stream
	}
	binary.BigEndian.PutUint64(body, uint64(i))
	return mustEncodeFrame(t, body)
}

// exchange sends n frames each way at once and checks both sides read
// them all, in order, once.
func exchange(t *testing.T, c, s Conn, n, pace int) {
	t.Helper()
	ctx := readCtx(t)
	errs := make(chan error, 4)
	for _, pair := range [][2]Conn{{c, s}, {s, c}} {
		w, r := pair[0], pair[1]
		go func() {
			for i := range n {
				if err := w.WriteFrame(ctx, numbered(t, i)); err != nil {
					errs <- err
					return
				}
				if i%pace == 0 {
					time.Sleep(time.Millisecond) // paced, like chat: groups get flushed by the timer
				}
			}
			errs <- nil
		}()
		go func() {
			for i := range n {
				f, err := r.ReadFrame(ctx)
				if err != nil {
					errs <- err
					return
				}
				if want := numbered(t, i); !bytes.Equal(f, want) {
					errs <- errors.New("frame out of order, repeated or corrupted")
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestQUICFECRoundTrip(t *testing.T) {
	var counters FECCounters
	c, s := fecPair(t, nil, &counters, 0)
	<-c.(*fecConn).peerReady // frames before it go on the stream
	exchange(t, c, s, 500, 10)
	if st := c.Stats(); st.FramesOut != 500 || st.FramesIn != 500 {
		t.Fatalf("client stats %+v", st)
	}
	if counters.StreamFrames.Load() != 20 {
		t.Fatalf("%d frames on the stream, want the 20 large ones", counters.StreamFrames.Load())
	}
	if counters.DatagramBytes.Load() == 0 {
		t.Fatal("no datagram sent")
	}
}

// TestQUICFECLossyLink: at 10% loss each way every frame still arrives in
// order exactly once; FEC rebuilt some packets and the rest were
// retransmitted; with FEC datagrams beside QUIC (the default) and inside
// it.
func TestQUICFECLossyLink(t *testing.T) {
	for _, viaQUIC := range []bool{false, true} {
		name := map[bool]string{false: "direct", true: "via-quic"}[viaQUIC]
		t.Run(name, func(t *testing.T) {
			var counters FECCounters
			c, s := fecPairCfg(t, lossyRelay(0.10, 42), &counters, QUICConfig{FECViaQUIC: viaQUIC})
			if direct := c.(*fecConn).direct != nil; direct == viaQUIC || (s.(*fecConn).direct != nil) != direct {
				t.Fatalf("direct path on client %v, server %v; want %v", direct, s.(*fecConn).direct != nil, !viaQUIC)
			}
			exchange(t, c, s, 1000, 1)
			// Late parity may still rebuild packets: compare the
			// connections' and the listener's counts once both ended.
			c.Close(CloseNormal, "")
			s.Close(CloseNormal, "")
			waitFECClosed(t, c, s)
			rec := c.Stats().Recovered + s.Stats().Recovered
			if rec == 0 || counters.Recovered.Load() != rec {
				t.Fatalf("FEC recovered %d packets, the shared counters say %d", rec, counters.Recovered.Load())
			}
			if counters.Lost.Load() == 0 {
				t.Fatal("no loss accounted")
			}
			data := c.Stats().FECDataPackets + s.Stats().FECDataPackets
			nacked := c.Stats().Unrecoverable + s.Stats().Unrecoverable
			if data == 0 || nacked > data || counters.DataPackets.Load() != data || counters.NackedData.Load() != nacked {
				t.Fatalf("%d of %d FEC data packets NACKed, the shared counters say %d of %d",
					nacked, data, counters.NackedData.Load(), counters.DataPackets.Load())
			}
			t.Logf("parity m client %d server %d", c.(*fecConn).snd.parity(), s.(*fecConn).snd.parity())
			t.Logf("recovered %d, retransmitted %d, unrecoverable ids %d, NACKed %d of %d data packets, lost %d, duplicates %d, direct dropped %d",
				rec, counters.Retransmitted.Load(), counters.Unrecoverable.Load(), nacked, data, counters.Lost.Load(), counters.Duplicates.Load(), counters.DirectDropped.Load())
		})
	}
}

// TestQUICFECDirectLossRaisesParity: a connection that starts bare (no
// loss assumed) learns the 10% loss of its direct datagrams from the
// peer's reports (QUIC's own counters do not see them) and protects its
// frames with parity.
func TestQUICFECDirectLossRaisesParity(t *testing.T) {
	var counters FECCounters
	c, s := fecPairCfg(t, lossyRelay(0.10, 5), &counters, QUICConfig{FECInitialLoss: -1})
	exchange(t, c, s, 600, 1)
	for name, conn := range map[string]Conn{"client": c, "server": s} {
		fc := conn.(*fecConn)
		fc.snd.mu.Lock()
		loss := fc.snd.est.rate()
		fc.snd.mu.Unlock()
		if loss < 0.03 {
			t.Errorf("%s estimates %.3f loss on a 10%% lossy path", name, loss)
		}
		// Stats tells the same (the client's Fallback.ReturnAfter reads
		// it), and the datagrams this end never got.
		if st := conn.Stats(); st.SendLoss < 0.03 || st.LostOut == 0 || st.MissingIn == 0 || st.PacketsIn == 0 {
			t.Errorf("%s Stats: SendLoss %.3f, LostOut %d, MissingIn %d of PacketsIn %d", name, st.SendLoss, st.LostOut, st.MissingIn, st.PacketsIn)
		}
	}
	if rec := c.Stats().Recovered + s.Stats().Recovered; rec == 0 {
		t.Fatal("no packet rebuilt from parity: parity never went up")
	}
}

// TestQUICFECCloseCarriesCode: a frame written just before Close arrives,
// then the close code.
func TestQUICFECCloseCarriesCode(t *testing.T) {
	c, s := fecPair(t, lossyRelay(0.05, 7), nil, 0)
	ctx := readCtx(t)
	last := numbered(t, 99)
	if err := s.WriteFrame(ctx, last); err != nil {
		t.Fatal(err)
	}
	s.Close(CloseGoingAway, "drain")
	f, err := c.ReadFrame(ctx)
	if err != nil || !bytes.Equal(f, last) {
		t.Fatalf("read %d bytes, %v", len(f), err)
	}
	_, err = c.ReadFrame(ctx)
	if code, ok := CloseStatus(err); !ok || code != CloseGoingAway {
		t.Fatalf("after close: %v", err)
	}
}

// TestQUICFECFlowControl: a writer whose peer does not read blocks at the
// window and times out; nothing is lost once the peer reads.
func TestQUICFECFlowControl(t *testing.T) {
	c, s := fecPair(t, nil, nil, 64)
	ctx := readCtx(t)
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	sent := 0
	var err error
	for sent < 1000 {
		if err = c.WriteFrame(wctx, numbered(t, sent)); err != nil {
			break
		}
		sent++
	}
	if err == nil || sent != 64 {
		t.Fatalf("wrote %d frames to a peer that does not read (err %v), want the window of 64", sent, err)
	}
	for i := range sent {
		f, err := s.ReadFrame(ctx)
		if err != nil || !bytes.Equal(f, numbered(t, i)) {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	if err := c.WriteFrame(ctx, numbered(t, sent)); err != nil {
		t.Fatalf("window did not reopen: %v", err)
	}
}

// TestQUICFECBareOnCleanPath: on a path that looks clean frames go without
// FEC; when packets are lost anyway, the receiver NACKs the missing
// frames by seq and every frame still arrives once, in order.
func TestQUICFECBareOnCleanPath(t *testing.T) {
	var counters FECCounters
	c, s := fecPairCfg(t, lossyRelay(0.05, 11), &counters, QUICConfig{FECInitialLoss: -1})
	exchange(t, c, s, 100, 1)
	if counters.BareFrames.Load() == 0 {
		t.Fatal("no frame went bare on a path assumed clean")
	}
	if counters.Retransmitted.Load() == 0 {
		t.Fatal("nothing was NACKed by seq at 5% loss")
	}
	t.Logf("bare %d, retransmitted %d, recovered %d", counters.BareFrames.Load(), counters.Retransmitted.Load(), counters.Recovered.Load())
}

// TestQUICFECCloseAcksEverything: when both ends close right after an
// exchange, each acknowledges what it received before its FIN, so both
// close handshakes finish with nothing left unacknowledged (before the
// fix one end sent FIN first and the other waited out its close timeout
// with frames it could never see acknowledged).
func TestQUICFECCloseAcksEverything(t *testing.T) {
	c, s := fecPair(t, nil, nil, 0)
	exchange(t, c, s, 50, 10)
	c.Close(CloseNormal, "")
	s.Close(CloseNormal, "")
	for _, conn := range []Conn{c, s} {
		fc := conn.(*fecConn)
		<-fc.done
		fc.snd.mu.Lock()
		n := len(fc.snd.unacked)
		fc.snd.mu.Unlock()
		if n != 0 {
			t.Fatalf("%d frames never acknowledged at close", n)
		}
	}
}

// TestQUICFECSparseTrafficDoesNotPoll: chat-like traffic (a frame each way
// every 100 ms) wakes each end's timer loop a few times per frame (the
// write, the arrival, its flush, expiry and ack deadlines), not on a fixed
// tick: the loop used to poll every fecTick (5 ms) while anything was
// unacknowledged, about 20 wake-ups per frame at this pace.
func TestQUICFECSparseTrafficDoesNotPoll(t *testing.T) {
	c, s := fecPair(t, nil, nil, 0)
	const frames = 15
	pingPong(t, c, s, frames, 100*time.Millisecond)
	for _, conn := range []Conn{c, s} {
		fc := conn.(*fecConn)
		fc.snd.awaitAllAcked(time.Now().Add(5*time.Second), fc.term)
		per := float64(fc.wakeups.Load()) / frames
		t.Logf("%s: %.1f timer wake-ups per frame sent and received", conn.RemoteAddr(), per)
		if per > 10 {
			t.Errorf("%.1f timer wake-ups per frame: the loop polls", per)
		}
	}
}

// TestQUICFECFirstFramesNotDropped: a client writing right after the
// handshake, before the server has accepted the connection, loses no
// direct datagram: its first frames go on the stream until the server's
// first control record says its path is routed. Before, the first direct
// packet of nearly every connection reached the server before Accept
// registered the path, was dropped and counted as loss, which kept the
// new connection's parity high for hundreds of packets.
func TestQUICFECFirstFramesNotDropped(t *testing.T) {
	for range 3 {
		var counters FECCounters
		ln, pin := startQUICWith(t, QUICConfig{FECCounters: &counters})
		ctx := readCtx(t)
		c, err := DialQUICFEC(ctx, ln.Addr().String(), QUICConfig{TLS: pin, FECCounters: &counters})
		if err != nil {
			t.Fatal(err)
		}
		const early = 3
		for i := range early {
			if err := c.WriteFrame(ctx, numbered(t, 1+i)); err != nil {
				t.Fatal(err)
			}
		}
		s, err := ln.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range early + 20 {
			if i >= early {
				if err := c.WriteFrame(ctx, numbered(t, 1+i)); err != nil {
					t.Fatal(err)
				}
			}
			f, err := s.ReadFrame(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f, numbered(t, 1+i)) {
				t.Fatalf("frame %d out of order or corrupted", i)
			}
		}
		fc := c.(*fecConn)
		if n := counters.DirectDropped.Load(); n != 0 {
			t.Fatalf("%d direct packets dropped on a clean loopback path", n)
		}
		if n := fc.snd.lostOut.Load(); n != 0 {
			t.Fatalf("client counted %d packets lost on a clean loopback path", n)
		}
		if n := counters.StreamFrames.Load(); n < early {
			t.Fatalf("%d frames on the stream, want at least the %d written before Accept", n, early)
		}
		c.Close(CloseNormal, "")
		s.Close(CloseNormal, "")
		waitFECClosed(t, c, s)
	}
}

// TestQUICFECAcksRideDatagrams: with ALPN edgegate-fec/3 (the default for
// direct datagrams) chat-like traffic in both directions acknowledges in
// the datagrams already going the other way, and the control stream
// carries few acks; a client offering only edgegate-fec/2 (an older one)
// gets the stream acks it understands from the same listener, and every
// frame arrives either way.
func TestQUICFECAcksRideDatagrams(t *testing.T) {
	for _, tc := range []struct {
		name        string
		streamAcks  bool
		wantProto   string
		inDatagrams bool
	}{
		{"fec/3", false, QUICFECDirectAcksALPN, true},
		{"fec/2 client", true, QUICFECDirectALPN, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var counters FECCounters
			c, s := fecPairCfg(t, nil, &counters, QUICConfig{FECStreamAcks: tc.streamAcks})
			if p := c.(*fecConn).qc.ConnectionState().TLS.NegotiatedProtocol; p != tc.wantProto {
				t.Fatalf("negotiated %q, want %q", p, tc.wantProto)
			}
			const frames = 20
			pingPong(t, c, s, frames, 20*time.Millisecond)
			stream, dgram := counters.StreamAcks.Load(), counters.DatagramAcks.Load()
			t.Logf("acks on the stream %d, in datagrams %d, for %d frames each way", stream, dgram, frames)
			if !tc.inDatagrams {
				if dgram != 0 {
					t.Fatalf("%d acks in datagrams on %s", dgram, tc.wantProto)
				}
				return
			}
			if dgram < frames {
				t.Fatalf("only %d acks rode datagrams for %d frames each way", dgram, frames)
			}
			if stream*2 > dgram {
				t.Fatalf("%d stream acks against %d in datagrams: the stream still carries most", stream, dgram)
			}
		})
	}
}

// pingPong writes n frames each way, each end writing then reading,
// every gap (chat-like traffic: datagrams go both ways), and checks
// every frame arrives once, in order.
func pingPong(t *testing.T, c, s Conn, n int, gap time.Duration) {
	t.Helper()
	ctx := readCtx(t)
	errs := make(chan error, 2)
	for _, pair := range [][2]Conn{{c, s}, {s, c}} {
		w, r := pair[0], pair[1]
		go func() {
			for i := range n {
				if err := w.WriteFrame(ctx, numbered(t, 1+i%40)); err != nil {
					errs <- err
					return
				}
				f, err := r.ReadFrame(ctx)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(f, numbered(t, 1+i%40)) {
					errs <- errors.New("frame out of order, repeated or corrupted")
					return
				}
				time.Sleep(gap) // traffic pacing, not synchronisation
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
