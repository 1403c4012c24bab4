package itest

import (
	"context"
	"testing"
	"time"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

func TestSIGTERMDrainsWithRedirect(t *testing.T) {
	addr, data := freePort(t), t.TempDir()
	p := startEdge(t, addr, data, "--drain-redirect", "ws://127.0.0.1:1/v1/ws")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := transport.DialWS(ctx, p.url(), transport.WSDialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(transport.CloseNormal, "")
	b, _ := transport.Encode(nil, &pb.Connect{Token: token(t, "u", []string{"c:drain"}, nil)}, nil)
	if err := conn.WriteFrame(ctx, b); err != nil {
		t.Fatal(err)
	}
	if f, err := conn.ReadFrame(ctx); err != nil {
		t.Fatal(err)
	} else if typ, _, _ := transport.Decode(f, transport.Limits{}); typ != transport.TypeConnected {
		t.Fatalf("got %v", typ)
	}
	// Send one message so there is something to keep.
	b, _ = transport.Encode(nil, &pb.Send{ClientMsgId: "k1", Target: &pb.Send_Conversation{Conversation: "c:drain"}, Body: []byte("keep")}, nil)
	if err := conn.WriteFrame(ctx, b); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	sawRedirect := false
	for {
		f, err := conn.ReadFrame(ctx)
		if err != nil {
			code, ok := transport.CloseStatus(err)
			if !ok || code != transport.CloseGoingAway {
				t.Fatalf("connection ended with %v, want close 1001", err)
			}
			break
		}
		_, m, err := transport.Decode(f, transport.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		switch v := m.(type) {
		case *pb.Ack:
			go func() { exited <- p.term() }()
		case *pb.Redirect:
			if v.Reason != "drain" || len(v.Urls) != 1 {
				t.Fatalf("redirect %v", v)
			}
			sawRedirect = true
		}
	}
	if !sawRedirect {
		t.Fatal("no redirect before close")
	}
	if err := <-exited; err != nil {
		t.Fatalf("edge exit after SIGTERM: %v", err)
	}
	// The store was closed cleanly: a restart has the message.
	p2 := startEdge(t, addr, data)
	defer p2.term()
	if log := history(t, addr, "c:drain"); len(log) != 1 || log[0].Body != "keep" {
		t.Fatalf("history after restart: %v", log)
	}
}
