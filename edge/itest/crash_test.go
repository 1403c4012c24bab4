package itest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// rawSender sends ordered messages one after another over a raw WebSocket
// and records every ack until the connection dies.
func rawSender(t *testing.T, url, user, conv string, max int, acked map[string]uint64, mu *sync.Mutex, started chan<- struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := transport.DialWS(ctx, url, transport.WSDialOptions{})
	if err != nil {
		t.Errorf("dial: %v", err)
		close(started)
		return
	}
	defer conn.Close(transport.CloseNormal, "")
	send := func(m *pb.Send) error {
		b, _ := transport.Encode(nil, m, nil)
		return conn.WriteFrame(ctx, b)
	}
	b, _ := transport.Encode(nil, &pb.Connect{Token: token(t, user, []string{conv}, nil), DeviceId: "d"}, nil)
	if err := conn.WriteFrame(ctx, b); err != nil {
		t.Errorf("connect: %v", err)
		close(started)
		return
	}
	if f, err := conn.ReadFrame(ctx); err != nil {
		t.Errorf("connected: %v", err)
		close(started)
		return
	} else if _, m, _ := transport.Decode(f, transport.Limits{}); m == nil {
		t.Errorf("bad connected frame")
	}
	close(started)
	for i := 0; i < max; i++ {
		id := fmt.Sprintf("%s-%d", user, i)
		if err := send(&pb.Send{ClientMsgId: id, Target: &pb.Send_Conversation{Conversation: conv}, Body: []byte(id)}); err != nil {
			return
		}
		for {
			f, err := conn.ReadFrame(ctx)
			if err != nil {
				return
			}
			_, m, err := transport.Decode(f, transport.Limits{})
			if err != nil {
				t.Errorf("decode: %v", err)
				return
			}
			if ack, ok := m.(*pb.Ack); ok && ack.ClientMsgId == id {
				mu.Lock()
				acked[id] = ack.Seq
				mu.Unlock()
				break
			}
		}
	}
}

func TestCrashSafetyKill9(t *testing.T) {
	addr, data := freePort(t), t.TempDir()
	p := startEdge(t, addr, data)
	const senders = 6
	var mu sync.Mutex
	acked := map[string]uint64{}
	var wg sync.WaitGroup
	var starts []chan struct{}
	for i := 0; i < senders; i++ {
		// Two senders share each conversation so seqs interleave.
		conv := fmt.Sprintf("group:crash-%d", i/2)
		started := make(chan struct{})
		starts = append(starts, started)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rawSender(t, p.url(), fmt.Sprintf("u%d", i), conv, 5000, acked, &mu, started)
		}()
	}
	for _, s := range starts {
		<-s
	}
	// Kill once a good number of messages were acked.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.kill9()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 50 {
		t.Fatalf("only %d messages acked before the kill", len(acked))
	}
	p2 := startEdge(t, addr, data)
	defer p2.term()
	found := 0
	for c := 0; c < senders/2; c++ {
		conv := fmt.Sprintf("group:crash-%d", c)
		log := history(t, addr, conv)
		ids := map[string]bool{}
		for i, m := range log {
			if m.Seq != uint64(i+1) {
				t.Fatalf("%s: position %d has seq %d (gap)", conv, i, m.Seq)
			}
			if ids[m.ClientMsgID] {
				t.Fatalf("%s: duplicate %s", conv, m.ClientMsgID)
			}
			ids[m.ClientMsgID] = true
			if seq, ok := acked[m.ClientMsgID]; ok {
				if seq != m.Seq {
					t.Fatalf("%s: %s acked as seq %d, stored as %d", conv, m.ClientMsgID, seq, m.Seq)
				}
				found++
			}
		}
	}
	if found != len(acked) {
		t.Fatalf("%d of %d acked messages survived kill -9", found, len(acked))
	}
	t.Logf("all %d acked messages present after kill -9 and restart", found)
}
