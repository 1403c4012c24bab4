package itest

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// rawConn speaks frames directly, to send what the SDK never would.
type rawConn struct {
	t *testing.T
	c transport.Conn
}

func dialRaw(t *testing.T, url string) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := transport.DialWS(ctx, url, transport.WSDialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(transport.CloseNormal, "") })
	return &rawConn{t: t, c: c}
}

func (r *rawConn) send(m proto.Message) error {
	b, err := transport.Encode(nil, m, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.c.WriteFrame(context.Background(), b)
}

// next returns the next message, or the error that ended the connection.
func (r *rawConn) next() (proto.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := r.c.ReadFrame(ctx)
	if err != nil {
		return nil, err
	}
	_, m, err := transport.Decode(b, transport.Limits{})
	if err != nil {
		r.t.Fatalf("edge sent an undecodable frame: %v", err)
	}
	return m, nil
}

// expectError reads until an Error frame and returns its code.
func (r *rawConn) expectError() pb.ErrorCode {
	r.t.Helper()
	for {
		m, err := r.next()
		if err != nil {
			r.t.Fatalf("connection ended (%v) before an Error frame", err)
		}
		if e, ok := m.(*pb.Error); ok {
			return e.Code
		}
	}
}

// closed reads until the connection ends and returns its close code; ok is
// false when the client saw a reset instead of a close frame.
func (r *rawConn) closed() (transport.CloseCode, bool) {
	r.t.Helper()
	for {
		_, err := r.next()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				r.t.Fatal("connection still open")
			}
			return transport.CloseStatus(err)
		}
	}
}

func (r *rawConn) connect(tok string) {
	r.t.Helper()
	if err := r.send(&pb.Connect{Token: tok, DeviceId: "raw"}); err != nil {
		r.t.Fatal(err)
	}
	m, err := r.next()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, ok := m.(*pb.Connected); !ok {
		r.t.Fatalf("first reply %T %v, want Connected", m, m)
	}
}

// closesMetric reads edgegate_session_closes_total{reason=...}.
func closesMetric(t *testing.T, addr, reason string) float64 {
	t.Helper()
	return metricValue(t, addr, `edgegate_session_closes_total{reason="`+reason+`"}`)
}

// metricValue reads one series (name{labels} as /metrics writes it) of the
// edge at addr; 0 when absent.
func metricValue(t *testing.T, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	prefix := series + " "
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// TestBadInputAgainstRealEdge sends every kind of bad input to a real edge
// process and checks the documented error or close code, while a bystander
// on the same edge keeps chatting without loss.
func TestBadInputAgainstRealEdge(t *testing.T) {
	addr := freePort(t)
	p := startEdge(t, addr, t.TempDir(), "--message-rate", "5", "--message-burst", "5")
	defer p.term()
	url := p.url()

	by := dialClient(t, url, "bystander", "d1", []string{"dm:bystander:*"}, nil)
	conv := "dm:bystander:self"
	if _, err := by.Subscribe(context.Background(), conv); err != nil {
		t.Fatal(err)
	}
	sent := 0
	say := func() {
		t.Helper()
		if _, err := by.Send(context.Background(), conv, []byte("still here")); err != nil {
			t.Fatalf("bystander send: %v", err)
		}
		sent++
	}
	say()

	t.Run("bad and expired tokens", func(t *testing.T) {
		expired, err := auth.MintHS256([]byte(secret), auth.MintClaims{Subject: "late", TTL: -time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			tok  string
			want pb.ErrorCode
		}{
			{"not-a-jwt", pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED},
			{expired, pb.ErrorCode_ERROR_CODE_TOKEN_EXPIRED},
		} {
			r := dialRaw(t, url)
			if err := r.send(&pb.Connect{Token: tc.tok}); err != nil {
				t.Fatal(err)
			}
			if got := r.expectError(); got != tc.want {
				t.Fatalf("error %v, want %v", got, tc.want)
			}
			if code, ok := r.closed(); !ok || code != transport.CloseCodeFor(tc.want) {
				t.Fatalf("close %d (%v), want %d", code, ok, transport.CloseCodeFor(tc.want))
			}
		}
	})
	say()

	t.Run("forbidden conversation is an error, not a close", func(t *testing.T) {
		r := dialRaw(t, url)
		r.connect(token(t, "mallory", []string{"dm:mallory:*"}, nil))
		_ = r.send(&pb.Send{ClientMsgId: "x1", Target: &pb.Send_Conversation{Conversation: conv}, Body: []byte("snoop")})
		if got := r.expectError(); got != pb.ErrorCode_ERROR_CODE_FORBIDDEN {
			t.Fatalf("error %v, want FORBIDDEN", got)
		}
		_ = r.send(&pb.Send{ClientMsgId: "x2", Target: &pb.Send_Conversation{Conversation: "dm:mallory:own"}, Body: []byte("ok")})
		for {
			m, err := r.next()
			if err != nil {
				t.Fatalf("connection closed after a forbidden send: %v", err)
			}
			if a, ok := m.(*pb.Ack); ok && a.ClientMsgId == "x2" {
				break
			}
		}
	})
	say()

	for _, tc := range []struct {
		name, reason string
		frame        []byte
		want         transport.CloseCode
	}{
		{"garbage bytes", "bad_frame", []byte("\x00\xffnot a frame at all"), transport.CloseProtocol},
		{"oversized frame", "too_large", append([]byte{1, byte(transport.TypeSend), 0, 0, 0, 2, 0, 0}, make([]byte, 128<<10)...), transport.CloseTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := closesMetric(t, addr, tc.reason)
			r := dialRaw(t, url)
			r.connect(token(t, "fuzzer", []string{"*"}, nil))
			_ = r.c.WriteFrame(context.Background(), tc.frame) // may fail half-way: the edge stops reading
			// The edge lingers after closing, so even a client still
			// writing its oversized frame reads the close code.
			if code, ok := r.closed(); !ok || code != tc.want {
				t.Fatalf("close %d (seen: %v), want %d", code, ok, tc.want)
			}
			deadline := time.Now().Add(10 * time.Second)
			for closesMetric(t, addr, tc.reason) != before+1 {
				if time.Now().After(deadline) {
					t.Fatalf("edgegate_session_closes_total{reason=%q} did not grow", tc.reason)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
		say()
	}

	t.Run("flood is rate limited then closed", func(t *testing.T) {
		r := dialRaw(t, url)
		r.connect(token(t, "flooder", []string{"dm:flooder:*"}, nil))
		limited := 0
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 2000; i++ {
				if r.send(&pb.Send{ClientMsgId: strconv.Itoa(i), Target: &pb.Send_Conversation{Conversation: "dm:flooder:x"}, Body: []byte("spam")}) != nil {
					return
				}
			}
		}()
		var code transport.CloseCode
		for {
			m, err := r.next()
			if err != nil {
				var ok bool
				if code, ok = transport.CloseStatus(err); !ok {
					t.Fatalf("flood ended with %v, not a close code", err)
				}
				break
			}
			if e, ok := m.(*pb.Error); ok && e.Code == pb.ErrorCode_ERROR_CODE_RATE_LIMITED {
				limited++
			}
		}
		r.c.Close(transport.CloseNormal, "")
		<-done
		if limited == 0 || code != transport.CloseCodeFor(pb.ErrorCode_ERROR_CODE_RATE_LIMITED) {
			t.Fatalf("%d RATE_LIMITED errors, close %d; want some and %d", limited, code, transport.CloseCodeFor(pb.ErrorCode_ERROR_CODE_RATE_LIMITED))
		}
	})
	say()

	// The bystander got every one of its messages, in order.
	got := 0
	deadline := time.After(10 * time.Second)
	for got < sent {
		select {
		case m := <-by.Messages():
			got++
			if m.Seq != uint64(got) {
				t.Fatalf("bystander message %d has seq %d", got, m.Seq)
			}
		case <-deadline:
			t.Fatalf("bystander received %d of %d", got, sent)
		}
	}
}
