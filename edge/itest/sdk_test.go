package itest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/client"
	"github.com/edgegate/edgegate/transport/pb"
)

func dialClient(t *testing.T, url, user, device string, convs, rooms []string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		URL:        url,
		Token:      token(t, user, convs, rooms),
		DeviceID:   device,
		MinBackoff: 20 * time.Millisecond,
		MaxBackoff: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func checkOrder(t *testing.T, msgs []*pb.Message, from uint64) {
	t.Helper()
	for i, m := range msgs {
		if m.Seq != from+uint64(i) {
			t.Fatalf("message %d: seq %d, want %d", i, m.Seq, from+uint64(i))
		}
	}
}

// TestSDKResumeAcrossDroppedLinks cuts every connection several times
// while alice sends: bob must see every message exactly once, in order,
// and alice's sends must all be acked exactly once.
func TestSDKResumeAcrossDroppedLinks(t *testing.T) {
	addr, data := freePort(t), t.TempDir()
	p := startEdge(t, addr, data)
	defer p.term()
	proxy := newCutProxy(t, addr)
	url := "ws://" + proxy.addr() + "/v1/ws"
	conv := "dm:alice:bob"
	alice := dialClient(t, url, "alice", "phone", []string{conv}, nil)
	bob := dialClient(t, url, "bob", "phone", []string{conv}, nil)

	const n = 200
	acks := make([]uint64, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			ack, err := alice.SendWithID(ctx, conv, fmt.Sprintf("a-%d", i), []byte(fmt.Sprint(i)))
			cancel()
			if err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
			acks[i] = ack.Seq
		}
	}()
	got := make([]*pb.Message, 0, n)
	cuts := 0
	deadline := time.After(60 * time.Second)
	for len(got) < n {
		select {
		case m := <-bob.Messages():
			if m.Conversation != conv {
				continue
			}
			got = append(got, m)
			// Cut the links a few times mid-stream.
			if len(got)%50 == 25 {
				cuts++
				proxy.cut()
			}
		case <-deadline:
			t.Fatalf("bob received %d of %d", len(got), n)
		}
	}
	wg.Wait()
	checkOrder(t, got, 1)
	for i := 0; i < n; i++ {
		if acks[i] != uint64(i+1) {
			t.Fatalf("send %d acked with seq %d, want %d", i, acks[i], i+1)
		}
		if string(got[i].Body) != fmt.Sprint(i) {
			t.Fatalf("message %d body %q", i, got[i].Body)
		}
	}
	if st := bob.Stats(); st.Reconnects < uint64(cuts) {
		t.Fatalf("bob reconnected %d times for %d cuts", st.Reconnects, cuts)
	}
	// No duplicate arrives later either: history and delivery agree.
	if log := history(t, addr, conv); len(log) != n {
		t.Fatalf("stored %d messages, want %d (a resend was stored twice?)", len(log), n)
	}
}

// TestSDKGroupAndRoom: group chat among three users and a room broadcast.
func TestSDKGroupAndRoom(t *testing.T) {
	addr, data := freePort(t), t.TempDir()
	p := startEdge(t, addr, data)
	defer p.term()
	url := "ws://" + addr + "/v1/ws"
	conv, room := "group:friends", "live:stream1"
	users := []string{"ann", "ben", "cat"}
	var cs []*client.Client
	for _, u := range users {
		c := dialClient(t, url, u, "web", []string{"group:friends"}, []string{"live:*"})
		if _, err := c.JoinRoom(context.Background(), room); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		for j, c := range cs {
			if _, err := c.Send(ctx, conv, []byte(fmt.Sprintf("%s-%d", users[j], i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range cs {
		if _, err := c.SendLive(ctx, room, []byte("hello room")); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cs {
		var convMsgs, roomMsgs int
		last := uint64(0)
		deadline := time.After(10 * time.Second)
		for convMsgs < 30 || roomMsgs < 3 {
			select {
			case m := <-c.Messages():
				switch {
				case m.Conversation == conv:
					if m.Seq != last+1 {
						t.Fatalf("group seq %d after %d", m.Seq, last)
					}
					last = m.Seq
					convMsgs++
				case m.Room == room:
					roomMsgs++
				}
			case <-deadline:
				t.Fatalf("got %d group and %d room messages", convMsgs, roomMsgs)
			}
		}
	}
}

// TestSDKOfflineSyncFromPersistedPositions: bob reads part of a
// conversation, goes offline (his app persists Positions()), alice keeps
// sending, and a new bob process restarting from those positions gets
// exactly the messages he missed: no gap, no duplicate.
func TestSDKOfflineSyncFromPersistedPositions(t *testing.T) {
	addr := freePort(t)
	p := startEdge(t, addr, t.TempDir())
	defer p.term()
	url := p.url()
	conv := "dm:alice:bob"
	alice := dialClient(t, url, "alice", "phone", []string{conv}, nil)
	bob := dialClient(t, url, "bob", "laptop", []string{conv}, nil)
	ctx := context.Background()
	if _, err := bob.Subscribe(ctx, conv); err != nil {
		t.Fatal(err)
	}
	send := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if _, err := alice.SendWithID(ctx, conv, fmt.Sprint("m", i), []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(0, 10)
	var got []*pb.Message
	deadline := time.After(10 * time.Second)
	for len(got) < 10 {
		select {
		case m := <-bob.Messages():
			got = append(got, m)
		case <-deadline:
			t.Fatalf("bob received %d of 10", len(got))
		}
	}
	checkOrder(t, got, 1)
	saved := bob.Positions()
	if saved[conv] != 10 {
		t.Fatalf("bob's positions %v, want %s at 10", saved, conv)
	}
	bob.Close()

	send(10, 35) // bob is offline

	c, err := client.Dial(ctx, client.Config{URL: url, Token: token(t, "bob", []string{conv}, nil),
		DeviceID: "laptop", Positions: saved})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Subscribe(ctx, conv); err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	deadline = time.After(10 * time.Second)
	for len(got) < 25 {
		select {
		case m := <-c.Messages():
			got = append(got, m)
		case <-deadline:
			t.Fatalf("bob received %d of the 25 he missed", len(got))
		}
	}
	checkOrder(t, got, 11)
	// Nothing else was pending: the next message is the next one sent.
	send(35, 36)
	select {
	case m := <-c.Messages():
		if m.Seq != 36 {
			t.Fatalf("after the missed ones got seq %d, want 36", m.Seq)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("live message after the sync never arrived")
	}
}
