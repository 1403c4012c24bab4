package edge

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

func closeCode(t *testing.T, err error) transport.CloseCode {
	t.Helper()
	code, ok := transport.CloseStatus(err)
	if !ok {
		t.Fatalf("connection ended with %v, not a close code", err)
	}
	return code
}

func TestBadTokens(t *testing.T) {
	e := startEdge(t, nil)
	cases := []struct {
		name  string
		token string
		code  pb.ErrorCode
	}{
		{"garbage", "not-a-jwt", pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED},
		{"empty", "", pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED},
		{"expired", e.token("u", []string{"*"}, nil, -time.Hour), pb.ErrorCode_ERROR_CODE_TOKEN_EXPIRED},
		{"wrong key", func() string {
			e2 := *e
			e2.secret = []byte("another-secret-another-secret-xx")
			return e2.token("u", nil, nil, time.Hour)
		}(), pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dialRaw(t)
			c.send(&pb.Connect{Token: tc.token})
			er := expect[*pb.Error](c)
			if er.Code != tc.code {
				t.Fatalf("error code %v, want %v", er.Code, tc.code)
			}
			if code := closeCode(t, c.closed()); code != transport.CloseCodeFor(tc.code) {
				t.Fatalf("close code %d, want %d", code, transport.CloseCodeFor(tc.code))
			}
		})
	}
}

func TestFirstFrameMustBeConnect(t *testing.T) {
	e := startEdge(t, nil)
	c := e.dialRaw(t)
	c.send(&pb.Ping{Nonce: 1})
	if er := expect[*pb.Error](c); er.Code != pb.ErrorCode_ERROR_CODE_BAD_REQUEST {
		t.Fatalf("error = %v", er)
	}
	c.closed()
}

func TestForbiddenAndInvalidAreNotFatal(t *testing.T) {
	e := startEdge(t, nil)
	c := e.dialRaw(t)
	c.connect(e.token("mallory", []string{"dm:mallory:*"}, nil, time.Hour), nil)
	sendConv(c, "dm:alice:bob", "f1", "snoop")
	if er := expect[*pb.Error](c); er.Code != pb.ErrorCode_ERROR_CODE_FORBIDDEN || er.ClientMsgId != "f1" {
		t.Fatalf("error = %v", er)
	}
	sendConv(c, "bad id with spaces", "f2", "x")
	if er := expect[*pb.Error](c); er.Code != pb.ErrorCode_ERROR_CODE_BAD_REQUEST {
		t.Fatalf("error = %v", er)
	}
	c.send(&pb.Send{ClientMsgId: "big", Target: &pb.Send_Conversation{Conversation: "dm:mallory:x"}, Body: bytes.Repeat([]byte("a"), 17<<10)})
	if er := expect[*pb.Error](c); er.Code != pb.ErrorCode_ERROR_CODE_TOO_LARGE {
		t.Fatalf("error = %v", er)
	}
	// Still usable.
	sendConv(c, "dm:mallory:x", "ok1", "fine")
	if ack := expect[*pb.Ack](c); ack.Seq != 1 {
		t.Fatalf("ack = %v", ack)
	}
}

func TestMalformedFramesClose(t *testing.T) {
	e := startEdge(t, nil)
	// A bystander keeps working throughout.
	by := e.dialRaw(t)
	by.connect(e.token("bystander", []string{"c:by"}, nil, time.Hour), nil)

	cases := []struct {
		name   string
		frame  []byte
		want   transport.CloseCode
		reason string
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\n\r\n"), transport.CloseProtocol, "bad_frame"},
		{"bad version", []byte{9, 6, 0, 0, 0, 0, 0, 0}, transport.CloseProtocol, "bad_frame"},
		{"bad protobuf", append([]byte{1, byte(transport.TypeSend), 0, 0, 0, 0, 0, 3}, 0xff, 0xff, 0xff), transport.CloseProtocol, "bad_frame"},
		{"oversized", append([]byte{1, byte(transport.TypeSend), 0, 0, 0, 2, 0, 0}, make([]byte, 128<<10)...), transport.CloseTooLarge, "too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(e.srv.m.closes.WithLabelValues(tc.reason))
			c := e.dialRaw(t)
			c.connect(e.token("m", []string{"*"}, nil, time.Hour), nil)
			// The write of an oversized frame may fail half-way: the
			// server stops reading at the limit.
			_ = c.sendRaw(tc.frame)
			err := c.closed()
			// The edge lingers after closing, so even a client still
			// writing its oversized frame reads the close code.
			if code, ok := transport.CloseStatus(err); !ok || code != tc.want {
				t.Fatalf("connection ended with %v, want close %d", err, tc.want)
			}
			waitFor(t, func() bool { return testutil.ToFloat64(e.srv.m.closes.WithLabelValues(tc.reason)) == before+1 })
		})
	}
	sendConv(by, "c:by", "b1", "still here")
	if ack := expect[*pb.Ack](by); ack.Seq != 1 {
		t.Fatalf("bystander ack = %v", ack)
	}
}

func TestFloodIsLimitedThenClosed(t *testing.T) {
	e := startEdge(t, func(c *Config) {
		c.MessageRate = 5
		c.MessageBurst = 5
		c.FloodViolations = 50
	})
	by := e.dialRaw(t)
	by.connect(e.token("bystander", []string{"c:flood"}, nil, time.Hour), nil)
	c := e.dialRaw(t)
	c.connect(e.token("flooder", []string{"c:flood"}, nil, time.Hour), nil)
	for i := 0; i < 200; i++ {
		if err := c.sendRaw(mustEncode(t, &pb.Send{ClientMsgId: msgID(i), Target: &pb.Send_Conversation{Conversation: "c:flood"}, Body: []byte("x")})); err != nil {
			break // closed under us: expected
		}
	}
	for range c.in {
		// Drain until the server closes the connection.
	}
	// The client may see the close code, or a reset if its unread frames
	// were still in the server's buffer; the server's counts are exact.
	if code, ok := transport.CloseStatus(c.err()); ok && code != transport.CloseCodeFor(pb.ErrorCode_ERROR_CODE_RATE_LIMITED) {
		t.Fatalf("close %d", code)
	}
	waitFor(t, func() bool { return testutil.ToFloat64(e.srv.m.closes.WithLabelValues("flooding")) == 1 })
	acks := int(testutil.ToFloat64(e.srv.m.orderedMsgs.WithLabelValues("stored")))
	limited := testutil.ToFloat64(e.srv.m.errors.WithLabelValues(pb.ErrorCode_ERROR_CODE_RATE_LIMITED.String()))
	if acks < 5 || acks > 10 || limited < 50 {
		t.Fatalf("stored %d, rate-limited %v", acks, limited)
	}
	// The bystander receives the flooder's accepted messages, in order.
	got := by.collect("c:flood", acks)
	checkSeqs(t, got, 1)
}

// TestControlFloodIsLimitedThenClosed: control frames (here pings and
// presence queries) past ControlRate are refused (a request gets
// RATE_LIMITED with its request id; a ping is dropped) and a session that
// keeps flooding is closed; a bystander's session keeps working.
func TestControlFloodIsLimitedThenClosed(t *testing.T) {
	e := startEdge(t, func(c *Config) {
		c.ControlRate = 5
		c.ControlBurst = 5
		c.FloodViolations = 50
	})
	by := e.dialRaw(t)
	by.connect(e.token("bystander", []string{"c:ctl"}, nil, time.Hour), nil)
	c := e.dialRaw(t)
	c.connect(e.token("flooder", []string{"c:ctl"}, nil, time.Hour), nil)
	for i := range 200 {
		var m proto.Message = &pb.Ping{Nonce: uint64(i + 1)}
		if i%2 == 1 {
			m = &pb.PresenceQuery{RequestId: uint64(i + 1), Conversation: "c:ctl"}
		}
		if err := c.sendRaw(mustEncode(t, m)); err != nil {
			break // closed under us: expected
		}
	}
	var pongs, limitedReqs int
	for f := range c.in {
		switch m := f.(type) {
		case *pb.Pong:
			pongs++
		case *pb.Error:
			if m.Code == pb.ErrorCode_ERROR_CODE_RATE_LIMITED && m.RequestId != 0 {
				limitedReqs++
			}
		}
	}
	if code, ok := transport.CloseStatus(c.err()); ok && code != transport.CloseCodeFor(pb.ErrorCode_ERROR_CODE_RATE_LIMITED) {
		t.Fatalf("close %d", code)
	}
	waitFor(t, func() bool { return testutil.ToFloat64(e.srv.m.closes.WithLabelValues("flooding")) == 1 })
	if pongs > 10 {
		t.Fatalf("%d pongs: the control rate (burst 5) was not applied", pongs)
	}
	if limited := testutil.ToFloat64(e.srv.m.errors.WithLabelValues(pb.ErrorCode_ERROR_CODE_RATE_LIMITED.String())); limited < 50 {
		t.Fatalf("rate-limited %v, want >= 50 (FloodViolations)", limited)
	}
	t.Logf("pongs %d, RATE_LIMITED with request id read %d", pongs, limitedReqs)
	by.send(&pb.PresenceQuery{RequestId: 7, Conversation: "c:ctl"})
	if p := presenceReply(by, 7); len(p.Users) == 0 {
		t.Fatalf("bystander presence %v", p)
	}
}

func TestOriginRejected(t *testing.T) {
	e := startEdge(t, func(c *Config) { c.AllowedOrigins = []string{"https://app.example.com"} })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := transport.DialWS(ctx, e.url, transport.WSDialOptions{Origin: "https://evil.example.net"})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("err %v resp %v", err, resp)
	}
	resp.Body.Close()
	conn, _, err := transport.DialWS(ctx, e.url, transport.WSDialOptions{Origin: "https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(1000, "")
}

func TestConnectionCap(t *testing.T) {
	e := startEdge(t, func(c *Config) { c.MaxConnections = 2 })
	a, b := e.dialRaw(t), e.dialRaw(t)
	a.connect(e.token("a", nil, nil, time.Hour), nil)
	b.connect(e.token("b", nil, nil, time.Hour), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := transport.DialWS(ctx, e.url, transport.WSDialOptions{})
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("third connection: err %v resp %v", err, resp)
	}
	resp.Body.Close()
}

func TestTooManySubscriptions(t *testing.T) {
	e := startEdge(t, func(c *Config) { c.MaxSubscriptions = 3 })
	c := e.dialRaw(t)
	c.connect(e.token("u", []string{"*"}, []string{"*"}, time.Hour), nil)
	var ps []*pb.Position
	for i := 0; i < 4; i++ {
		ps = append(ps, &pb.Position{Conversation: "c:" + strings.Repeat("x", i+1)})
	}
	c.send(&pb.Subscribe{RequestId: 2, Conversations: ps})
	if er := expect[*pb.Error](c); er.Code != pb.ErrorCode_ERROR_CODE_TOO_MANY_SUBSCRIPTIONS {
		t.Fatalf("error = %v", er)
	}
}

func mustEncode(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := transport.Encode(nil, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConnectionRatePerIP(t *testing.T) {
	dialStatus := func(e *testEdge) int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, resp, err := transport.DialWS(ctx, e.url, transport.WSDialOptions{})
		if err == nil {
			conn.Close(1000, "")
			return 101
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		resp.Body.Close()
		if resp.Header.Get("Retry-After") == "" {
			t.Fatalf("status %d without Retry-After", resp.StatusCode)
		}
		return resp.StatusCode
	}
	// A rate so low that no token comes back during the test.
	e := startEdge(t, func(c *Config) { c.ConnRatePerIP, c.ConnBurstPerIP = 0.001, 3 })
	for i := range 3 {
		if s := dialStatus(e); s != 101 {
			t.Fatalf("connection %d within the burst: status %d", i, s)
		}
	}
	if s := dialStatus(e); s != 429 {
		t.Fatalf("connection past the burst: status %d, want 429", s)
	}
	if got := testutil.ToFloat64(e.srv.m.connRejects.WithLabelValues("ip_rate")); got != 1 {
		t.Fatalf("ip_rate rejects metric %v, want 1", got)
	}
	// Negative disables the limit.
	e = startEdge(t, func(c *Config) { c.ConnRatePerIP, c.ConnBurstPerIP = -1, 1 })
	for i := range 20 {
		if s := dialStatus(e); s != 101 {
			t.Fatalf("unlimited: connection %d: status %d", i, s)
		}
	}
}
