package client

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

func TestDialRejectsBadToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		cfg := testConfig(srv)
		cfg.Token = "bad"
		c, err := Dial(testCtx(t), cfg)
		if c != nil || err == nil {
			t.Fatalf("Dial with a bad token: client %v, err %v", c, err)
		}
		var se *Error
		if !errors.As(err, &se) || se.Code != pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED {
			t.Fatalf("err = %v, want *Error UNAUTHENTICATED", err)
		}
		if n := srv.numConnects(); n != 1 {
			t.Fatalf("connect attempts = %d, want 1 (not retried)", n)
		}
	})
}

func TestDialTokenFuncRefreshesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		cfg := testConfig(srv)
		tokens := []string{"expired", "good"}
		calls := 0
		cfg.TokenFunc = func(context.Context) (string, error) {
			tok := tokens[min(calls, len(tokens)-1)]
			calls++
			return tok, nil
		}
		c := mustDial(t, cfg)
		defer c.Close()
		if calls != 2 || srv.numConnects() != 2 {
			t.Fatalf("TokenFunc calls %d, connects %d; want 2 and 2", calls, srv.numConnects())
		}

		// A token rejected twice in a row is fatal.
		srv2 := newFakeServer(t)
		defer srv2.close()
		cfg2 := testConfig(srv2)
		cfg2.TokenFunc = func(context.Context) (string, error) { return "expired", nil }
		if _, err := Dial(testCtx(t), cfg2); !errors.Is(err, &Error{Code: pb.ErrorCode_ERROR_CODE_TOKEN_EXPIRED}) {
			t.Fatalf("err = %v, want TOKEN_EXPIRED", err)
		}
		if n := srv2.numConnects(); n != 2 {
			t.Fatalf("connects = %d, want 2 (one refresh)", n)
		}
	})
}

func TestTokenExpiredMidSessionStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		states := make(stateRecorder, 16)
		cfg := testConfig(srv)
		cfg.OnStateChange = states.fn
		calls := 0
		cfg.TokenFunc = func(context.Context) (string, error) {
			calls++
			if calls == 1 {
				return "good", nil
			}
			return "expired", nil
		}
		c := mustDial(t, cfg)
		defer c.Close()
		srv.kill(transport.CloseCodeFor(pb.ErrorCode_ERROR_CODE_TOKEN_EXPIRED))
		<-c.Done()
		states.await(t, StateClosed)
		if code, ok := ErrorCode(c.Err()); !ok || code != pb.ErrorCode_ERROR_CODE_TOKEN_EXPIRED {
			t.Fatalf("Err() = %v, want TOKEN_EXPIRED", c.Err())
		}
		if calls != 2 {
			t.Fatalf("TokenFunc calls = %d, want 2", calls)
		}
		if _, err := c.Send(testCtx(t), "c1", []byte("x")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Send after fatal error: %v, want ErrClosed", err)
		}
		if _, ok := <-c.Messages(); ok {
			t.Fatal("Messages not closed")
		}
	})
}

func TestSendAckAndReceiveOwnMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		c := mustDial(t, testConfig(srv))
		defer c.Close()
		ctx := testCtx(t)
		heads, err := c.Subscribe(ctx, "c1")
		if err != nil || heads["c1"] != 0 {
			t.Fatalf("Subscribe: %v %v", heads, err)
		}
		for i := 1; i <= 3; i++ {
			ack, err := c.Send(ctx, "c1", []byte{byte(i)})
			if err != nil {
				t.Fatal(err)
			}
			if ack.Seq != uint64(i) || ack.Duplicate || ack.Conversation != "c1" || ack.ClientMsgID == "" {
				t.Fatalf("ack %d = %+v", i, ack)
			}
		}
		got := recv(t, c, 3)
		if !slices.Equal(seqs(got), []uint64{1, 2, 3}) || got[2].GetBody()[0] != 3 {
			t.Fatalf("received %v", seqs(got))
		}
		if p := c.Positions(); p["c1"] != 3 {
			t.Fatalf("Positions = %v", p)
		}
		st := c.Stats()
		if st.Sent != 3 || st.Acked != 3 || st.Delivered != 3 || st.State != StateConnected || st.Transport != "mem" {
			t.Fatalf("stats = %+v", st)
		}
	})
}

func TestResendAfterReconnectGetsOriginalSeq(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		dropped := false
		srv.hook = func(s *fakeSession, m proto.Message) bool {
			if send, ok := m.(*pb.Send); ok && !dropped {
				// Store durably, then lose the connection before the ack.
				dropped = true
				srv.storeLocked(s.user, send)
				_ = s.conn.Close(transport.CloseInternal, "crash")
				return true
			}
			return false
		}
		c := mustDial(t, testConfig(srv))
		defer c.Close()
		ack, err := c.SendWithID(testCtx(t), "c1", "msg-1", []byte("hello"))
		if err != nil {
			t.Fatal(err)
		}
		if ack.Seq != 1 || !ack.Duplicate || ack.ClientMsgID != "msg-1" {
			t.Fatalf("ack = %+v, want seq 1 duplicate", ack)
		}
		srv.mu.Lock()
		n, stored := srv.sends, len(srv.logs["c1"])
		srv.mu.Unlock()
		if stored != 1 || n != 1 || srv.numConnects() != 2 {
			t.Fatalf("stored %d, handled sends %d, connects %d; want 1, 1 (+1 swallowed), 2", stored, n, srv.numConnects())
		}
		if st := c.Stats(); st.Resent != 1 || st.Reconnects != 1 || st.DuplicateAcks != 1 {
			t.Fatalf("stats = %+v", st)
		}
		// Sending the same id again later is answered from the dedup index.
		ack, err = c.SendWithID(testCtx(t), "c1", "msg-1", []byte("hello"))
		if err != nil || ack.Seq != 1 || !ack.Duplicate {
			t.Fatalf("later resend = %+v, %v", ack, err)
		}
	})
}

func TestSendWaitsForReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		states := make(stateRecorder, 16)
		cfg := testConfig(srv)
		cfg.OnStateChange = states.fn
		c := mustDial(t, cfg)
		defer c.Close()
		srv.mu.Lock()
		srv.dialErr = errors.New("network down")
		srv.mu.Unlock()
		srv.kill(transport.CloseInternal)
		states.await(t, StateReconnecting)
		done := make(chan error, 1)
		go func() {
			_, err := c.Send(testCtx(t), "c1", []byte("x"))
			done <- err
		}()
		srv.waitFor("two failed redials", func() bool { return len(srv.urls) >= 3 })
		select {
		case err := <-done:
			t.Fatalf("Send returned while disconnected: %v", err)
		default:
		}
		srv.mu.Lock()
		srv.dialErr = nil
		srv.mu.Unlock()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestRedeliveredMessagesAreDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		srv.ignorePositions = true // the server replays whole logs on reconnect
		c := mustDial(t, testConfig(srv))
		defer c.Close()
		if _, err := c.Subscribe(testCtx(t), "c1"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			srv.publish("c1", "m")
		}
		if got := seqs(recv(t, c, 3)); !slices.Equal(got, []uint64{1, 2, 3}) {
			t.Fatalf("got %v", got)
		}
		srv.kill(transport.CloseInternal)
		srv.waitFor("reconnect", func() bool { return len(srv.connects) == 2 && len(srv.sessions) == 1 })
		srv.publish("c1", "m")
		if got := recv(t, c, 1); got[0].GetSeq() != 4 {
			t.Fatalf("after reconnect got seq %d, want 4", got[0].GetSeq())
		}
		if d := c.Stats().DuplicatesDropped; d != 3 {
			t.Fatalf("DuplicatesDropped = %d, want 3", d)
		}
	})
}

func TestReconnectSendsPositionsAndResubscribes(t *testing.T) {
	for _, resume := range []bool{true, false} {
		t.Run(map[bool]string{true: "resumed", false: "not-resumed"}[resume], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := newFakeServer(t)
				defer srv.close()
				srv.noResume = !resume
				var subs []*pb.Subscribe
				srv.hook = func(_ *fakeSession, m proto.Message) bool {
					if s, ok := m.(*pb.Subscribe); ok {
						subs = append(subs, s)
					}
					return false
				}
				c := mustDial(t, testConfig(srv))
				defer c.Close()
				if _, err := c.Subscribe(testCtx(t), "c1"); err != nil {
					t.Fatal(err)
				}
				if _, err := c.JoinRoom(testCtx(t), "r1"); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 3; i++ {
					srv.publish("c1", "m")
				}
				recv(t, c, 3)
				srv.kill(transport.CloseInternal)
				srv.waitFor("reconnect", func() bool { return len(srv.connects) == 2 })
				srv.mu.Lock()
				hello := srv.connects[1]
				srv.mu.Unlock()
				if hello.GetResumeToken() != "rt-1" || hello.GetDeviceId() != "dev1" {
					t.Fatalf("second Connect: resume %q device %q", hello.GetResumeToken(), hello.GetDeviceId())
				}
				if len(hello.GetPositions()) != 1 || hello.GetPositions()[0].GetConversation() != "c1" || hello.GetPositions()[0].GetSeq() != 3 {
					t.Fatalf("second Connect positions = %v, want c1:3", hello.GetPositions())
				}
				if resume {
					srv.publish("c1", "m")
				} else {
					srv.waitFor("resubscribe", func() bool { return len(subs) == 3 })
					re := subs[2]
					if len(re.GetConversations()) != 1 || re.GetConversations()[0].GetSeq() != 3 || !slices.Equal(re.GetRooms(), []string{"r1"}) {
						t.Fatalf("resubscribe = %v", re)
					}
					srv.publish("c1", "m")
				}
				if got := recv(t, c, 1); got[0].GetSeq() != 4 {
					t.Fatalf("got seq %d, want 4", got[0].GetSeq())
				}
				if !resume && len(subs) != 3 {
					t.Fatalf("%d subscribes, want 3", len(subs))
				}
				if resume && len(subs) != 2 {
					t.Fatalf("resumed session was resubscribed: %d subscribes", len(subs))
				}
			})
		})
	}
}

// TestRedirectIsFollowedAtOnce: a redirect lists edges, best first; the
// client dials the first at once, and skips one that does not answer for
// the next, at once too.
func TestRedirectIsFollowedAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		urls []string
		want string
	}{
		{"one edge", []string{"ws://edge-b/v1/ws"}, "ws://edge-b/v1/ws"},
		{"first one dead", []string{"ws://dead/v1/ws", "", "ws://edge-c/v1/ws"}, "ws://edge-c/v1/ws"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := newFakeServer(t)
				defer srv.close()
				cfg := testConfig(srv)
				cfg.MinBackoff = time.Second
				cfg.Dial = func(ctx context.Context, url string) (transport.Conn, error) {
					if url == "ws://dead/v1/ws" {
						return nil, errors.New("connection refused")
					}
					return srv.dial(ctx, url)
				}
				c := mustDial(t, cfg)
				defer c.Close()
				t0 := time.Now()
				srv.mu.Lock()
				for s := range srv.sessions {
					s.write(&pb.Redirect{Reason: "drain", Urls: tc.urls})
					_ = s.conn.Close(transport.CloseGoingAway, "drain")
				}
				srv.mu.Unlock()
				srv.waitFor("redial", func() bool { return len(srv.connects) == 2 })
				srv.mu.Lock()
				defer srv.mu.Unlock()
				if got := srv.urls[1:]; len(got) != 1 || got[0] != tc.want {
					t.Fatalf("dialed %q after the redirect, want only %s", got, tc.want)
				}
				if d := srv.dialAt[1].Sub(t0); d != 0 {
					t.Fatalf("redirect followed after %v, want at once", d)
				}
				if u := c.Stats().URL; u != tc.want {
					t.Fatalf("Stats.URL = %q", u)
				}
			})
		})
	}
}

func TestBackoffScheduleUsesFullJitterCeiling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		srv.dialErr = errors.New("refused")
		cfg := testConfig(srv)
		cfg.MinBackoff, cfg.MaxBackoff = 100*time.Millisecond, time.Second
		var asked []int64
		cfg.randN = func(n int64) int64 { asked = append(asked, n); return n - 1 } // the top of [0, n)
		ctx, cancel := context.WithTimeout(context.Background(), 3200*time.Millisecond)
		defer cancel()
		_, err := Dial(ctx, cfg)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, srv.dialErr) {
			t.Fatalf("err = %v", err)
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		var gaps []time.Duration
		for i := 1; i < len(srv.dialAt); i++ {
			gaps = append(gaps, srv.dialAt[i].Sub(srv.dialAt[i-1]))
		}
		ms := time.Millisecond
		want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms}
		if !slices.Equal(gaps, want) {
			t.Fatalf("gaps between dials = %v, want %v", gaps, want)
		}
		if int64(asked[0]) != int64(100*ms)+1 || int64(asked[4]) != int64(time.Second)+1 {
			t.Fatalf("jitter ranges asked = %v", asked)
		}
	})
}

func TestHeartbeatTimeoutReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		srv.heartbeatMs = 1000
		c := mustDial(t, testConfig(srv))
		defer c.Close()
		synctest.Wait()
		srv.mu.Lock()
		srv.silent = true
		srv.mu.Unlock()
		t0 := time.Now()
		srv.waitFor("reconnect", func() bool { return len(srv.connects) == 2 })
		d := time.Since(t0)
		srv.mu.Lock()
		srv.silent = false
		srv.mu.Unlock()
		if d <= 2*time.Second || d > 2500*time.Millisecond {
			t.Fatalf("dead connection replaced after %v, want in (2s, 2.5s]", d)
		}
	})
}

func TestRTTFromPong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		srv.hook = func(s *fakeSession, m proto.Message) bool {
			if p, ok := m.(*pb.Ping); ok {
				srv.wg.Add(1)
				go func() {
					defer srv.wg.Done()
					time.Sleep(30 * time.Millisecond) // the simulated network delay
					s.write(&pb.Pong{Nonce: p.GetNonce(), SentTimeMs: p.GetSentTimeMs()})
				}()
				return true
			}
			return false
		}
		c := mustDial(t, testConfig(srv))
		defer c.Close()
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		if rtt := c.Stats().RTT; rtt != 30*time.Millisecond {
			t.Fatalf("RTT = %v, want 30ms", rtt)
		}
	})
}

func TestGapIsFilledBySync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		c := mustDial(t, testConfig(srv))
		defer c.Close()
		if _, err := c.Subscribe(testCtx(t), "g"); err != nil {
			t.Fatal(err)
		}
		srv.mu.Lock()
		var sess *fakeSession
		for s := range srv.sessions {
			sess = s
		}
		delete(sess.convs, "g") // deliver by hand below
		for i := 0; i < 3; i++ {
			srv.storeLocked("bob", &pb.Send{ClientMsgId: NewMessageID(), Target: &pb.Send_Conversation{Conversation: "g"}})
		}
		log := srv.logs["g"]
		phantom := &pb.Message{Conversation: "g", Seq: 5} // seq 4 never existed
		sess.write(&pb.Deliver{Messages: []*pb.Message{log[0], log[2], phantom}})
		srv.mu.Unlock()
		got := seqs(recv(t, c, 4))
		if !slices.Equal(got, []uint64{1, 2, 3, 5}) {
			t.Fatalf("got %v, want 1 2 3 5", got)
		}
		srv.mu.Lock()
		syncs := slices.Clone(srv.syncs)
		srv.mu.Unlock()
		if len(syncs) != 1 || syncs[0].GetPositions()[0].GetSeq() != 1 {
			t.Fatalf("sync requests = %v", syncs)
		}
		if st := c.Stats(); st.Gaps != 1 || st.Skipped != 1 {
			t.Fatalf("Gaps %d Skipped %d, want 1 1", st.Gaps, st.Skipped)
		}
		if p := c.Positions()["g"]; p != 5 {
			t.Fatalf("position %d", p)
		}
	})
}

func TestRoomMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		c := mustDial(t, testConfig(srv))
		defer c.Close()
		ctx := testCtx(t)
		viewers, err := c.JoinRoom(ctx, "live1")
		if err != nil || viewers != 1 {
			t.Fatalf("JoinRoom = %d, %v", viewers, err)
		}
		ack, err := c.SendLive(ctx, "live1", []byte("wow"))
		if err != nil || ack.Room != "live1" || ack.Seq != 1 {
			t.Fatalf("SendLive = %+v, %v", ack, err)
		}
		if m := recv(t, c, 1)[0]; m.GetRoom() != "live1" || string(m.GetBody()) != "wow" {
			t.Fatalf("own comment = %v", m)
		}
		srv.mu.Lock()
		for s := range srv.sessions {
			room := func(seq uint64) *pb.Message { return &pb.Message{Room: "live1", Seq: seq} }
			s.write(&pb.Deliver{Messages: []*pb.Message{room(2), room(2), room(1), room(5)}, Dropped: 2})
		}
		srv.mu.Unlock()
		if got := seqs(recv(t, c, 2)); !slices.Equal(got, []uint64{2, 5}) {
			t.Fatalf("got %v, want 2 5", got)
		}
		p, err := c.RoomPresence(ctx, "live1")
		if err != nil || p.Viewers != 1 || len(p.Users) != 1 || p.Users[0].UserID != "alice" {
			t.Fatalf("RoomPresence = %+v, %v", p, err)
		}
		if err := c.LeaveRoom(ctx, "live1"); err != nil {
			t.Fatal(err)
		}
		if st := c.Stats(); st.LiveDropped != 2 || st.DuplicatesDropped != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestRequestErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		srv.maxMessageBytes = 10
		limited := 0
		srv.hook = func(s *fakeSession, m proto.Message) bool {
			if send, ok := m.(*pb.Send); ok && send.GetConversation() == "busy" && limited < 2 {
				limited++
				s.write(&pb.Error{Code: pb.ErrorCode_ERROR_CODE_RATE_LIMITED, ClientMsgId: send.GetClientMsgId(), RetryAfterMs: 500})
				return true
			}
			return false
		}
		c := mustDial(t, testConfig(srv))
		defer c.Close()
		ctx := testCtx(t)

		_, err := c.Send(ctx, "forbidden", []byte("x"))
		var se *Error
		if !errors.As(err, &se) || se.Code != pb.ErrorCode_ERROR_CODE_FORBIDDEN {
			t.Fatalf("Send forbidden: %v", err)
		}
		if _, err := c.Subscribe(ctx, "forbidden"); !errors.Is(err, &Error{Code: pb.ErrorCode_ERROR_CODE_FORBIDDEN}) {
			t.Fatalf("Subscribe forbidden: %v", err)
		}
		if _, err := c.Send(ctx, "c1", make([]byte, 11)); !errors.Is(err, &Error{Code: pb.ErrorCode_ERROR_CODE_TOO_LARGE}) {
			t.Fatalf("Send too large: %v", err)
		}
		if _, err := c.Send(ctx, "bad id!", nil); !errors.Is(err, ErrInvalidID) {
			t.Fatalf("Send bad id: %v", err)
		}
		if _, err := c.SendWithID(ctx, "c1", "", nil); !errors.Is(err, ErrInvalidID) {
			t.Fatalf("Send empty msg id: %v", err)
		}

		t0 := time.Now()
		ack, err := c.Send(ctx, "busy", []byte("x"))
		if err != nil || ack.Seq != 1 {
			t.Fatalf("rate limited Send: %+v %v", ack, err)
		}
		if d := time.Since(t0); d != time.Second {
			t.Fatalf("rate limited Send took %v, want 2 x 500ms", d)
		}

		// A context ending while rate limited returns the context error.
		limited = 0
		ctx2, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := c.Send(ctx2, "busy", []byte("y")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send with expiring ctx: %v", err)
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if srv.sends != 2 { // forbidden + the accepted busy one; too large never left
			t.Fatalf("server handled %d sends, want 2", srv.sends)
		}
	})
}

func TestCumulativeDeliveryAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		cfg := testConfig(srv)
		cfg.AckInterval = time.Hour // only the AckEvery trigger and Close flush
		cfg.AckEvery = 2
		c := mustDial(t, cfg)
		if _, err := c.Subscribe(testCtx(t), "c1"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			srv.publish("c1", "m")
		}
		recv(t, c, 3)
		srv.waitFor("ack after 2 messages", func() bool { return srv.stored["dev1\x00c1"] >= 2 })
		c.Close()
		srv.waitFor("final ack on Close", func() bool { return srv.stored["dev1\x00c1"] == 3 })
	})
}

func TestBackPressureKeepsOrderAndConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		srv.heartbeatMs = 1000
		cfg := testConfig(srv)
		cfg.MessageBuffer = 1
		c := mustDial(t, cfg)
		defer c.Close()
		if _, err := c.Subscribe(testCtx(t), "c1"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			srv.publish("c1", "m")
		}
		time.Sleep(10 * time.Second) // 10 heartbeat intervals without reading
		got := seqs(recv(t, c, 20))
		for i, s := range got {
			if s != uint64(i+1) {
				t.Fatalf("got %v", got)
			}
		}
		if n := srv.numConnects(); n != 1 {
			t.Fatalf("%d connects: a slow application was taken for a dead server", n)
		}
	})
}

func TestCloseFailsPendingAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		srv.hook = func(_ *fakeSession, m proto.Message) bool { _, ok := m.(*pb.Send); return ok } // never ack
		c := mustDial(t, testConfig(srv))
		done := make(chan error, 1)
		go func() {
			_, err := c.SendWithID(testCtx(t), "c1", "same", []byte("x"))
			done <- err
		}()
		synctest.Wait()
		if _, err := c.SendWithID(testCtx(t), "c1", "same", []byte("x")); !errors.Is(err, ErrInFlight) {
			t.Fatalf("second SendWithID with the same id in flight: %v, want ErrInFlight", err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("pending Send: %v, want ErrClosed", err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if c.State() != StateClosed || c.Err() != nil {
			t.Fatalf("state %v err %v", c.State(), c.Err())
		}
		if _, ok := <-c.Messages(); ok {
			t.Fatal("Messages not closed")
		}
		if _, err := c.Presence(testCtx(t), "c1"); !errors.Is(err, ErrClosed) {
			t.Fatalf("Presence after Close: %v", err)
		}
	})
}

func TestSubscribeFromAndUnsubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		for i := 0; i < 5; i++ {
			srv.publish("c1", "m")
		}
		c := mustDial(t, testConfig(srv))
		defer c.Close()
		ctx := testCtx(t)
		heads, err := c.SubscribeFrom(ctx, map[string]uint64{"c1": 3})
		if err != nil || heads["c1"] != 5 {
			t.Fatalf("SubscribeFrom = %v, %v", heads, err)
		}
		if got := seqs(recv(t, c, 2)); !slices.Equal(got, []uint64{4, 5}) {
			t.Fatalf("got %v", got)
		}
		p, err := c.Presence(ctx, "c1")
		if err != nil || len(p.Users) != 1 {
			t.Fatalf("Presence = %+v %v", p, err)
		}
		if err := c.Unsubscribe(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Positions()["c1"]; ok {
			t.Fatal("position kept after Unsubscribe")
		}
	})
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{},
		{URL: "ws://x"},
		{URL: "ws://x", Token: "t", MinBackoff: time.Second, MaxBackoff: time.Millisecond},
		{URL: "ws://x", Token: "t", DeviceID: "bad device"},
		{URL: "ws://x", Token: "t", Positions: map[string]uint64{"": 1}},
		{URL: "ws://x", Token: "t", AckInterval: -1},
		{URL: "ws://x", Token: "t", MessageBuffer: -1},
	}
	for i, cfg := range bad {
		if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("config %d: Validate = %v, want ErrConfig", i, err)
		}
		if _, err := Dial(context.Background(), cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("config %d: Dial = %v, want ErrConfig", i, err)
		}
	}
	good := Config{URL: "ws://x", Token: "t"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSendOverFrameLimitFailsWithoutReconnectLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		srv.maxFrameBytes = 100
		c := mustDial(t, testConfig(srv))
		defer c.Close()
		body := []byte(strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", 5)) // 180 bytes, below the compression threshold
		if _, err := c.Send(testCtx(t), "c1", body); !errors.Is(err, &Error{Code: pb.ErrorCode_ERROR_CODE_TOO_LARGE}) {
			t.Fatalf("Send = %v, want TOO_LARGE", err)
		}
		if ack, err := c.Send(testCtx(t), "c1", []byte("small")); err != nil || ack.Seq != 1 {
			t.Fatalf("small Send = %+v, %v", ack, err)
		}
		if n := srv.numConnects(); n != 1 {
			t.Fatalf("%d connects", n)
		}
	})
}

func TestAckIntervalFlushesAfterFirstDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		cfg := testConfig(srv)
		cfg.AckInterval = 250 * time.Millisecond
		cfg.AckEvery = 1000 // only the timer flushes
		c := mustDial(t, cfg)
		defer c.Close()
		if _, err := c.Subscribe(testCtx(t), "c1"); err != nil {
			t.Fatal(err)
		}
		srv.publish("c1", "m")
		recv(t, c, 1)
		start := time.Now()
		srv.waitFor("ack from the interval timer", func() bool { return srv.stored["dev1\x00c1"] == 1 })
		if d := time.Since(start); d > cfg.AckInterval {
			t.Fatalf("ack after %v, want within AckInterval %v", d, cfg.AckInterval)
		}
		// Later deliveries arm the timer again.
		srv.publish("c1", "m")
		recv(t, c, 1)
		srv.waitFor("second ack", func() bool { return srv.stored["dev1\x00c1"] == 2 })
	})
}

func TestOnMessageReceivesInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		cfg := testConfig(srv)
		got := make(chan *pb.Message, 16)
		cfg.OnMessage = func(m *pb.Message) { got <- m }
		c := mustDial(t, cfg)
		if _, err := c.Subscribe(testCtx(t), "c1"); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			srv.publish("c1", "m")
		}
		var seqsSeen []uint64
		for len(seqsSeen) < 5 {
			seqsSeen = append(seqsSeen, (<-got).GetSeq())
		}
		if !slices.Equal(seqsSeen, []uint64{1, 2, 3, 4, 5}) {
			t.Fatalf("OnMessage got seqs %v", seqsSeen)
		}
		c.Close()
		if m, ok := <-c.Messages(); ok {
			t.Fatalf("Messages() delivered %v while OnMessage is set", m)
		}
		if n := c.Stats().Delivered; n != 5 {
			t.Fatalf("Stats().Delivered = %d, want 5", n)
		}
	})
}

// TestPositionsCountWhatWasRead: an application that reads a message and
// then asks for Positions (to persist them) finds that message counted,
// both through Messages() and inside an OnMessage handler.
func TestPositionsCountWhatWasRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		inHandler := make(chan uint64, 1)
		cfg := testConfig(srv)
		var c *Client
		ready := make(chan struct{})
		cfg.OnMessage = func(m *pb.Message) {
			<-ready
			inHandler <- c.Positions()[m.GetConversation()]
		}
		c = mustDial(t, cfg)
		close(ready)
		defer c.Close()
		plain := mustDial(t, testConfig(srv))
		defer plain.Close()
		for _, cl := range []*Client{c, plain} {
			if _, err := cl.Subscribe(testCtx(t), "c1"); err != nil {
				t.Fatal(err)
			}
		}
		for i := uint64(1); i <= 100; i++ {
			srv.publish("c1", "m")
			m := recv(t, plain, 1)[0]
			if got := plain.Positions()["c1"]; got != m.GetSeq() || m.GetSeq() != i {
				t.Fatalf("read seq %d (want %d), Positions says %d", m.GetSeq(), i, got)
			}
			if got := <-inHandler; got != i {
				t.Fatalf("OnMessage for seq %d saw position %d", i, got)
			}
		}
	})
}

// linkReport is a fake server hook answering Pings with a link report of
// retrans retransmissions of segs segments and ooo segments received out
// of order, counting them in pongs.
func linkReport(retrans, segs, ooo uint32, pongs *int) func(*fakeSession, proto.Message) bool {
	return func(sess *fakeSession, m proto.Message) bool {
		p, ok := m.(*pb.Ping)
		if !ok {
			return false
		}
		if pongs != nil {
			*pongs++
		}
		sess.write(&pb.Pong{Nonce: p.GetNonce(), SentTimeMs: p.GetSentTimeMs(), ServerSegments: segs, ServerRetransmits: retrans, ServerOutOfOrder: ooo})
		return true
	}
}

// TestFallbackMovesOnServerReportedLoss: the edge reports (in Pongs) that
// it retransmits 10% of what it sends on this WebSocket connection; the
// client, whose own uplink looks clean, moves its session to quic-fec.
// The report is checked when its Pong arrives, not at the next probe
// tick, so a link lossy from the start is left within the first round
// trip.
func TestFallbackMovesOnServerReportedLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		srv.tname = "ws"
		srv.hook = linkReport(10, 100, 0, nil)
		cfg := testConfig(srv)
		cfg.Fallback = &Fallback{QUICURL: "quic+fec://edge-a:8443", ProbeEvery: time.Second}
		start := time.Now()
		c := mustDial(t, cfg)
		defer c.Close()
		srv.waitFor("move", func() bool { return len(srv.urls) == 2 })
		if d := time.Since(start); d >= cfg.Fallback.ProbeEvery {
			t.Fatalf("moved after %v: waited for the probe tick (%v)", d, cfg.Fallback.ProbeEvery)
		}
		if c.Stats().FirstMoveAt.IsZero() {
			t.Fatal("FirstMoveAt not set")
		}
		srv.mu.Lock()
		moved := srv.urls[1]
		srv.mu.Unlock()
		if moved != "quic+fec://edge-a:8443" {
			t.Fatalf("second dial to %q", moved)
		}
		if st := c.Stats(); st.TransportSwitches != 1 {
			t.Fatalf("TransportSwitches %d", st.TransportSwitches)
		}
	})
}

// tcpLink returns a fake WebSocket TCP_INFO whose counters grow at every
// read: per segments in, per out, none retransmitted, and ooo(n) segments
// received out of order in total at the n-th read.
func tcpLink(per uint64, ooo func(n uint64) uint64) func() transport.Stats {
	var n atomic.Uint64
	return func() transport.Stats {
		i := n.Add(1)
		return transport.Stats{PacketsOut: per * i, PacketsIn: per * i, OutOfOrderIn: ooo(i)}
	}
}

// TestFallbackMovesOnDownlinkHoles: the edge reports a clean link (its
// retransmission timer has not fired yet), but the client's own TCP keeps
// receiving segments out of order, so the downlink is losing packets:
// the client moves without waiting for the edge's retransmissions.
func TestFallbackMovesOnDownlinkHoles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, c := fallbackClient(t, 10, tcpLink(10, func(n uint64) uint64 { return 3 * n }), &Fallback{QUICURL: "quic+fec://edge-a:8443"})
		srv.waitFor("resume on QUIC", func() bool { return len(srv.connects) == 2 })
		if st := c.Stats(); st.TransportSwitches != 1 {
			t.Fatalf("TransportSwitches %d", st.TransportSwitches)
		}
	})
}

// TestFallbackMovesOnUplinkHoles: the client's own TCP has not
// retransmitted yet, but the edge reports receiving segments out of order
// in every Pong: the uplink is losing packets, and the client moves.
func TestFallbackMovesOnUplinkHoles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		srv.tname = "ws"
		srv.hook = linkReport(0, 10, 4, nil)
		srv.link = tcpLink(10, func(uint64) uint64 { return 0 })
		cfg := testConfig(srv)
		cfg.Fallback = &Fallback{QUICURL: "quic+fec://edge-a:8443"}
		c := mustDial(t, cfg)
		defer c.Close()
		srv.waitFor("resume on QUIC", func() bool { return len(srv.connects) == 2 })
		if st := c.Stats(); st.TransportSwitches != 1 {
			t.Fatalf("TransportSwitches %d", st.TransportSwitches)
		}
	})
}

// TestFallbackStays: links that do not call for the move keep the client
// on WebSocket for 10 probes: a clean report from the edge (1% of its
// segments retransmitted, no slow probes); and one downlink hole, however
// many segments queued behind it (5 out of order at once: 5 of 60
// segments would be well above LossAbove), which is one loss, below
// LossMinRetrans.
func TestFallbackStays(t *testing.T) {
	for _, tc := range []struct {
		name          string
		retrans, segs uint32
		link          func() transport.Stats
	}{
		{"clean server report", 1, 100, nil},
		{"one hole per check", 0, 10, tcpLink(10, func(n uint64) uint64 { return 5 * min(n/2, 1) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := newFakeServer(t)
				defer srv.close()
				srv.tname = "ws"
				pongs := 0
				srv.hook = linkReport(tc.retrans, tc.segs, 0, &pongs)
				srv.link = tc.link
				cfg := testConfig(srv)
				cfg.Fallback = &Fallback{QUICURL: "quic+fec://edge-a:8443"}
				c := mustDial(t, cfg)
				defer c.Close()
				srv.waitFor("10 probes", func() bool { return pongs >= 10 })
				if n := srv.numConnects(); n != 1 || c.Stats().TransportSwitches != 0 {
					t.Fatalf("%d connects, %d switches", n, c.Stats().TransportSwitches)
				}
			})
		})
	}
}
