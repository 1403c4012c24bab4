package client

import (
	"context"
	"testing"
	"time"

	"github.com/edgegate/edgegate/transport/pb"
)

func testConfig(srv *fakeServer) Config {
	return Config{URL: "ws://edge-a/v1/ws", Token: "good", DeviceID: "dev1", Dial: srv.dial}
}

func mustDial(t *testing.T, cfg Config) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return c
}

// testCtx bounds a test's blocking calls (in fake time under synctest),
// so a broken client fails the test instead of spinning forever.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// recv reads n messages from c.
func recv(t *testing.T, c *Client, n int) []*pb.Message {
	t.Helper()
	out := make([]*pb.Message, 0, n)
	timeout := time.After(time.Minute)
	for len(out) < n {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				t.Fatalf("Messages closed after %d of %d", len(out), n)
			}
			out = append(out, m)
		case <-timeout:
			t.Fatalf("timed out after %d of %d messages", len(out), n)
		}
	}
	return out
}

func seqs(ms []*pb.Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.GetSeq()
	}
	return out
}

// stateRecorder collects OnStateChange calls.
type stateRecorder chan State

func (r stateRecorder) fn(s State) { r <- s }

// await waits for state s, skipping others.
func (r stateRecorder) await(t *testing.T, s State) {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case got := <-r:
			if got == s {
				return
			}
		case <-timeout:
			t.Fatalf("timed out waiting for state %v", s)
		}
	}
}
