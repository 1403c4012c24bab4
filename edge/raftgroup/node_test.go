package raftgroup

import (
	"fmt"
	"sync"
	"testing"

	"github.com/edgegate/edgegate/edge/ordering"
)

func req(conv string, sender string, id int) ordering.Request {
	return ordering.Request{Conv: conv, Sender: sender, ClientMsgID: fmt.Sprintf("%s-%d", sender, id), Body: []byte(fmt.Sprintf("body %d", id))}
}

// checkSeqs asserts that every conversation's acked messages have the
// seqs 1..n, each once.
func checkSeqs(t *testing.T, acked map[string][]uint64) {
	t.Helper()
	for conv, seqs := range acked {
		seen := make(map[uint64]bool)
		for _, s := range seqs {
			if seen[s] {
				t.Fatalf("%s: seq %d acked twice", conv, s)
			}
			seen[s] = true
		}
		for s := uint64(1); s <= uint64(len(seqs)); s++ {
			if !seen[s] {
				t.Fatalf("%s: %d messages acked but seq %d missing (gap)", conv, len(seqs), s)
			}
		}
	}
}

// TestReplicatedAppendAndDedup: concurrent writers on 12 conversations
// spread over 4 groups of 3 replicas: gap-free seqs per conversation, a
// resend returns the original seq, and every replica ends with the same
// state.
func TestReplicatedAppendAndDedup(t *testing.T) {
	c := newCluster(t, 3, 4, 1<<20)
	var (
		mu    sync.Mutex
		acked = map[string][]uint64{}
		wg    sync.WaitGroup
	)
	for w := range 6 {
		wg.Go(func() {
			for i := range 40 {
				conv := fmt.Sprintf("conv-%d", (w*40+i)%12)
				res, err := c.append(req(conv, fmt.Sprintf("u%d", w), i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[conv] = append(acked[conv], res.Msg.GetSeq())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	checkSeqs(t, acked)
	// A resend of an acked message is answered with the stored one.
	first, err := c.append(req("conv-0", "u0", 0))
	if err != nil || !first.Duplicate || first.Msg.GetSeq() == 0 {
		t.Fatalf("resend: %+v %v", first, err)
	}
	c.converged()
	for i, st := range c.stores {
		if h, _ := st.Head("conv-0"); h != uint64(len(acked["conv-0"])) {
			t.Fatalf("node %d head of conv-0 is %d, want %d", i, h, len(acked["conv-0"]))
		}
	}
}

// TestLeaderLossKeepsAckedMessages: the node leading group 0 is cut off;
// the other two elect a leader and go on; every message acked before and
// after is there, in order, and the old leader catches up once healed.
func TestLeaderLossKeepsAckedMessages(t *testing.T) {
	c := newCluster(t, 3, 2, 1<<20)
	conv := "dm:a:b"
	g := GroupOf(conv, 2)
	acked := map[string][]uint64{}
	for i := range 20 {
		res, err := c.append(req(conv, "a", i))
		if err != nil {
			t.Fatal(err)
		}
		acked[conv] = append(acked[conv], res.Msg.GetSeq())
	}
	leader := -1
	for i, n := range c.nodes {
		if n.Raft(g).State().String() == "Leader" {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no leader after 20 acked writes")
	}
	c.isolate(leader)
	for i := 20; i < 40; i++ {
		res, err := c.append(req(conv, "a", i))
		if err != nil {
			t.Fatal(err)
		}
		acked[conv] = append(acked[conv], res.Msg.GetSeq())
	}
	checkSeqs(t, acked)
	c.heal()
	c.converged()
}

// TestLaggingReplicaCatchesUpBySnapshot: a replica cut off while the
// others write far past the retained log gets a snapshot and ends with
// the same state.
func TestLaggingReplicaCatchesUpBySnapshot(t *testing.T) {
	c := newCluster(t, 3, 1, 20)
	c.isolate(2)
	for i := range 300 {
		if _, err := c.append(req(fmt.Sprintf("c%d", i%7), "u", i)); err != nil {
			t.Fatal(err)
		}
	}
	snaps, err := c.snaps[0][0].List()
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) == 0 {
		snaps, _ = c.snaps[0][1].List()
	}
	if len(snaps) == 0 {
		t.Fatal("no snapshot taken after 300 entries with threshold 20")
	}
	c.heal()
	c.converged()
	if h, _ := c.stores[2].Head("c0"); h == 0 {
		t.Fatal("the lagging replica has nothing of c0")
	}
}

// TestRestartReplaysLog: a node that restarts keeps its state (the FSM
// skips the entries it had applied) and follows new writes.
func TestRestartReplaysLog(t *testing.T) {
	c := newCluster(t, 3, 2, 1<<20)
	for i := range 50 {
		if _, err := c.append(req(fmt.Sprintf("c%d", i%5), "u", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.converged()
	c.stop(1)
	for i := 50; i < 80; i++ {
		if _, err := c.append(req(fmt.Sprintf("c%d", i%5), "u", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.start(1)
	c.converged()
	for conv := range 5 {
		if h, _ := c.stores[1].Head(fmt.Sprintf("c%d", conv)); h != 16 {
			t.Fatalf("restarted node: c%d head %d, want 16", conv, h)
		}
	}
}
