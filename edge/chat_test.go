package edge

import (
	"testing"

	"time"

	"github.com/edgegate/edgegate/transport/pb"
)

func TestChatAckOrderAndDelivery(t *testing.T) {
	e := startEdge(t, nil)
	conv := "dm:alice:bob"
	alice, bob := e.dialRaw(t), e.dialRaw(t)
	alice.connect(e.token("alice", []string{conv}, nil, time.Hour), nil)
	bc := bob.connect(e.token("bob", []string{conv}, nil, time.Hour), nil)
	if len(bc.Subscribed) != 1 || bc.Subscribed[0].Conversation != conv {
		t.Fatalf("bob not auto-subscribed from token claims: %v", bc.Subscribed)
	}
	const n = 50
	for i := 1; i <= n; i++ {
		sendConv(alice, conv, msgID(i), "hello")
	}
	for i := 1; i <= n; i++ {
		ack := expect[*pb.Ack](alice)
		// The read loop waits for each append, so acks come in send order.
		if ack.ClientMsgId != msgID(i) || ack.Seq != uint64(i) || ack.Duplicate {
			t.Fatalf("ack %d = %v", i, ack)
		}
	}
	got := bob.collect(conv, n)
	checkSeqs(t, got, 1)
	for i, m := range got {
		if m.Sender != "alice" || m.ClientMsgId != msgID(i+1) || string(m.Body) != "hello" {
			t.Fatalf("message %d = %v", i, m)
		}
	}
}

func TestIdempotentResend(t *testing.T) {
	e := startEdge(t, nil)
	conv := "group:g1"
	a, b := e.dialRaw(t), e.dialRaw(t)
	a.connect(e.token("alice", []string{"group:*"}, nil, time.Hour), nil)
	b.connect(e.token("bob", []string{conv}, nil, time.Hour), nil)
	sendConv(a, conv, "x1", "first")
	first := expect[*pb.Ack](a)
	sendConv(a, conv, "x1", "first again")
	again := expect[*pb.Ack](a)
	if again.Seq != first.Seq || !again.Duplicate || first.Duplicate {
		t.Fatalf("resend: first %v again %v", first, again)
	}
	sendConv(a, conv, "x2", "second")
	if ack := expect[*pb.Ack](a); ack.Seq != first.Seq+1 {
		t.Fatalf("next seq %d, want %d", ack.Seq, first.Seq+1)
	}
	got := b.collect(conv, 2)
	if string(got[0].Body) != "first" || string(got[1].Body) != "second" {
		t.Fatalf("bob got %q %q", got[0].Body, got[1].Body)
	}
	checkSeqs(t, got, 1)
}

func TestOfflineSyncFromStoredPosition(t *testing.T) {
	e := startEdge(t, nil)
	conv := "dm:alice:carol"
	a := e.dialRaw(t)
	a.connect(e.token("alice", []string{conv}, nil, time.Hour), nil)
	for i := 1; i <= 30; i++ {
		sendConv(a, conv, msgID(i), "m")
		expect[*pb.Ack](a)
	}
	// Carol was never online: she gets the whole log.
	c := e.dialRaw(t)
	c.connect(e.token("carol", []string{conv}, nil, time.Hour), nil)
	got := c.collect(conv, 30)
	checkSeqs(t, got, 1)
	c.send(&pb.DeliveryAck{Positions: []*pb.Position{{Conversation: conv, Seq: 20}}})
	// Wait until the position is stored, then go offline.
	waitFor(t, func() bool {
		e.srv.positions.flush()
		p, _ := e.srv.store.Positions("carol", "d1")
		return p[conv] == 20
	})
	c.conn.Close(1000, "")
	c.closed()
	for i := 31; i <= 35; i++ {
		sendConv(a, conv, msgID(i), "m")
		expect[*pb.Ack](a)
	}
	// A new connection without resume token or positions starts from the
	// stored (acked) position.
	c2 := e.dialRaw(t)
	c2.connect(e.token("carol", []string{conv}, nil, time.Hour), nil)
	got = c2.collect(conv, 15)
	checkSeqs(t, got, 21)
}

func TestResumeNoGapNoDuplicate(t *testing.T) {
	e := startEdge(t, nil)
	conv := "dm:dave:erin"
	sender := e.dialRaw(t)
	sender.connect(e.token("dave", []string{conv}, nil, time.Hour), nil)
	// Erin subscribes explicitly (not through claims) so only resume can
	// bring the subscription back.
	r := e.dialRaw(t)
	tok := e.token("erin", []string{"dm:**"}, []string{"room:live"}, time.Hour)
	connected := r.connect(tok, nil)
	r.send(&pb.Subscribe{RequestId: 7, Conversations: []*pb.Position{{Conversation: conv}}, Rooms: []string{"room:live"}})
	sub := expect[*pb.Subscribed](r)
	if sub.RequestId != 7 || len(sub.Conversations) != 1 || len(sub.Rooms) != 1 {
		t.Fatalf("subscribed = %v", sub)
	}
	for i := 1; i <= 10; i++ {
		sendConv(sender, conv, msgID(i), "m")
		expect[*pb.Ack](sender)
	}
	got := r.collect(conv, 10)
	checkSeqs(t, got, 1)
	// The link dies after the client processed 7 (its last position).
	r.conn.Close(1006, "")
	r.closed()
	waitFor(t, func() bool { return e.srv.detached.sweep() == 1 })
	for i := 11; i <= 15; i++ {
		sendConv(sender, conv, msgID(i), "m")
		expect[*pb.Ack](sender)
	}
	r2 := e.dialRaw(t)
	c2 := r2.connect(tok, func(c *pb.Connect) {
		c.ResumeToken = connected.ResumeToken
		c.Positions = []*pb.Position{{Conversation: conv, Seq: 7}}
	})
	if !c2.Resumed || c2.SessionId != connected.SessionId || len(c2.Rooms) != 1 {
		t.Fatalf("resume: %v", c2)
	}
	got = r2.collect(conv, 8)
	checkSeqs(t, got, 8)
	// Nothing more arrives for the conversation: the next delivery is a
	// fresh message with the next seq.
	sendConv(sender, conv, msgID(16), "m")
	expect[*pb.Ack](sender)
	if next := r2.collect(conv, 1); next[0].Seq != 16 {
		t.Fatalf("after resume got seq %d, want 16", next[0].Seq)
	}
}

func TestBadResumeTokenIsNotFatal(t *testing.T) {
	e := startEdge(t, nil)
	c := e.dialRaw(t)
	got := c.connect(e.token("u1", []string{"c:1"}, nil, time.Hour), func(m *pb.Connect) { m.ResumeToken = "garbage" })
	if got.Resumed {
		t.Fatal("garbage resume token accepted")
	}
}

func TestSyncRequestPaged(t *testing.T) {
	e := startEdge(t, nil)
	conv := "group:sync"
	a := e.dialRaw(t)
	a.connect(e.token("alice", []string{conv}, nil, time.Hour), func(m *pb.Connect) {})
	for i := 1; i <= 12; i++ {
		sendConv(a, conv, msgID(i), "m")
		expect[*pb.Ack](a)
	}
	b := e.dialRaw(t)
	b.connect(e.token("bob", []string{"group:*"}, nil, time.Hour), nil)
	b.send(&pb.SyncRequest{RequestId: 3, Positions: []*pb.Position{{Conversation: conv, Seq: 2}}, Limit: 5})
	resp := expect[*pb.SyncResponse](b)
	if resp.RequestId != 3 || !resp.HasMore || len(resp.Messages) != 5 {
		t.Fatalf("sync page: %v", resp)
	}
	checkSeqs(t, resp.Messages, 3)
	b.send(&pb.SyncRequest{RequestId: 4, Positions: []*pb.Position{{Conversation: conv, Seq: 7}}, Limit: 50})
	resp = expect[*pb.SyncResponse](b)
	if resp.HasMore || len(resp.Messages) != 5 {
		t.Fatalf("last page: %v", resp)
	}
	checkSeqs(t, resp.Messages, 8)
}

func TestPresence(t *testing.T) {
	e := startEdge(t, nil)
	conv := "group:p"
	a, b, b2 := e.dialRaw(t), e.dialRaw(t), e.dialRaw(t)
	a.connect(e.token("alice", []string{conv}, nil, time.Hour), nil)
	b.connect(e.token("bob", []string{conv}, nil, time.Hour), nil)
	b2.connect(e.token("bob", []string{conv}, nil, time.Hour), func(c *pb.Connect) { c.DeviceId = "d2" })
	a.send(&pb.PresenceQuery{RequestId: 1, Conversation: conv})
	p := presenceReply(a, 1)
	if len(p.Users) != 2 || p.Users[0].UserId != "alice" || p.Users[1].UserId != "bob" || p.Users[1].Devices != 2 {
		t.Fatalf("presence = %v", p)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	waitWithin(t, 5*time.Second, "condition met", cond)
}

// waitWithin polls cond every 5 ms until it holds or d passes.
func waitWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPresencePushedOnTransitions(t *testing.T) {
	e := startEdge(t, nil)
	conv := "group:push"
	a := e.dialRaw(t)
	a.connect(e.token("alice", []string{conv}, nil, time.Hour), nil)
	b := e.dialRaw(t)
	b.connect(e.token("bob", []string{conv}, nil, time.Hour), nil)
	p := expect[*pb.Presence](a)
	if p.Conversation != conv || len(p.Users) != 1 || p.Users[0].UserId != "bob" || !p.Users[0].Online {
		t.Fatalf("online push = %v", p)
	}
	// A second device of bob is not a transition: no push. Its leaving is
	// not either; the last device leaving is.
	b2 := e.dialRaw(t)
	b2.connect(e.token("bob", []string{conv}, nil, time.Hour), func(c *pb.Connect) { c.DeviceId = "d2" })
	b2.conn.Close(1000, "")
	b2.closed()
	b.conn.Close(1000, "")
	b.closed()
	p = expect[*pb.Presence](a)
	if len(p.Users) != 1 || p.Users[0].UserId != "bob" || p.Users[0].Online {
		t.Fatalf("offline push = %v", p)
	}
}
