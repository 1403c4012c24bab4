package itest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/edgegate/edgegate/client"
	"github.com/edgegate/edgegate/transport/pb"
)

// jepsenDuration is how long the writers run under faults: 20 s in make
// test (the partition then lasts 5 s: long enough for the cut-off node's
// groups to elect new leaders, 2 to 4 s), longer with `make jepsen`
// (JEPSEN_DURATION=60s).
func jepsenDuration(t *testing.T) time.Duration {
	d := 20 * time.Second
	if s := os.Getenv("JEPSEN_DURATION"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("JEPSEN_DURATION: %v", err)
		}
	}
	return d
}

// leaderlessLimit bounds how long a group may go without a leader during
// the fault test. A leader's loss is noticed by its followers after raft's
// heartbeat timeout (2 to 4 s with raftgroup.Tuned), an election follows;
// after a partition or SIGCONT, stale RPCs wait out raftmux's 5 s
// timeout. 10 s leaves room for a loaded machine.
const leaderlessLimit = 10 * time.Second

// raftNode is one edge process of a Raft region.
type raftNode struct {
	id, addr, raft, data string
	secretFile           string // the region's Raft secret (writeRaftSecret)
	p                    *edgeProc
}

func (n *raftNode) start(t *testing.T, peers string) {
	n.p = startEdge(t, n.addr, n.data, "--node-id", n.id, "--raft-listen", n.raft, "--peers", peers, "--raft-groups", "4",
		"--raft-secret-file", n.secretFile, "--raft-fault-injection")
}

// writeRaftSecret writes a random region secret to a file for
// --raft-secret-file and returns its path.
func writeRaftSecret(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "raft.key")
	if err := os.WriteFile(file, []byte(rand.Text()+rand.Text()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// appendOp is one client write as the checker sees it.
type appendOp struct {
	conv, cmid string
	call, ret  int64 // ret 0: no answer (the write may or may not have happened)
	seq        uint64
}

// TestRaftJepsen runs three edge processes replicating ordered chat over
// Raft while writers on every node send messages with unique ids and a
// nemesis kills -9 nodes, restarts them and SIGSTOPs one. At the end every
// node must hold the same gap-free log per conversation containing every
// acked message exactly once at the seq its ack named; what readers saw
// never went backwards and matches the logs; and the writes are
// linearizable as appends to a per-conversation log (porcupine).
//
// It also cuts one node off its peers for a while (a silent partition of
// its Raft traffic, by fault injection: POST /v1/raft/isolate), checks
// that no group stays without a leader longer than leaderlessLimit, and
// at the end that every replica of every group has the same applied
// index and state hash and names the same leader.
func TestRaftJepsen(t *testing.T) {
	dur := jepsenDuration(t)
	nodes := make([]*raftNode, 3)
	var peers []string
	secret := writeRaftSecret(t)
	for i := range nodes {
		nodes[i] = &raftNode{id: fmt.Sprintf("n%d", i), addr: freePort(t), raft: freePort(t), data: filepath.Join(t.TempDir(), "data"), secretFile: secret}
		peers = append(peers, nodes[i].id+"@"+nodes[i].raft)
	}
	peerList := strings.Join(peers, ",")
	for _, n := range nodes {
		n.start(t, peerList)
	}
	convs := []string{"group:j0", "group:j1", "group:j2", "group:j3"}

	// Readers, one per node: what each saw, per conversation, in order.
	var (
		rmu  sync.Mutex
		read = map[string][]*pb.Message{} // key: node/conv
	)
	for i, n := range nodes {
		c, err := client.Dial(context.Background(), client.Config{
			URL: n.p.url(), Token: token(t, fmt.Sprintf("reader%d", i), convs, nil), DeviceID: "r",
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
			OnMessage: func(m *pb.Message) {
				rmu.Lock()
				k := n.id + "/" + m.Conversation
				read[k] = append(read[k], m)
				rmu.Unlock()
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}

	// Writers: two per node, each sending to every conversation in turn,
	// one message in flight at a time.
	start := time.Now()
	stopWriting := make(chan struct{})
	var (
		wmu sync.Mutex
		ops []appendOp
		wg  sync.WaitGroup
	)
	for w := range 6 {
		n := nodes[w%3]
		c, err := client.Dial(context.Background(), client.Config{
			URL: n.p.url(), Token: token(t, fmt.Sprintf("writer%d", w), convs, nil), DeviceID: "w",
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stopWriting:
					return
				default:
				}
				op := appendOp{conv: convs[(w+i)%len(convs)], cmid: fmt.Sprintf("w%d-%d", w, i), call: time.Since(start).Nanoseconds()}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				ack, err := c.SendWithID(ctx, op.conv, op.cmid, []byte(op.cmid))
				cancel()
				if err == nil {
					op.ret, op.seq = time.Since(start).Nanoseconds(), ack.Seq
				}
				wmu.Lock()
				ops = append(ops, op)
				wmu.Unlock()
				time.Sleep(5 * time.Millisecond) // a bounded rate: about 150 writes/s in all
			}
		})
	}

	watch := watchLeaders(4, func() []string {
		out := make([]string, len(nodes))
		for i, n := range nodes {
			out[i] = n.addr
		}
		return out
	})

	// The nemesis: faults at fixed points of the run, every one undone.
	stop := func(n *raftNode) { _ = n.p.cmd.Process.Signal(syscall.SIGSTOP) }
	cont := func(n *raftNode) { _ = n.p.cmd.Process.Signal(syscall.SIGCONT) }
	kill := func(n *raftNode) { n.p.kill9() }
	restart := func(n *raftNode) { n.start(t, peerList) }
	cut := func(n *raftNode) { isolate(t, n.addr, true) }
	heal := func(n *raftNode) { isolate(t, n.addr, false) }
	at := func(frac float64) <-chan time.Time {
		return time.After(time.Until(start.Add(time.Duration(frac * float64(dur)))))
	}
	for _, step := range []struct {
		at   float64
		what string
		node *raftNode
		do   func(*raftNode)
	}{
		{0.05, "kill -9", nodes[1], kill}, {0.2, "restart", nodes[1], restart},
		{0.25, "partition", nodes[2], cut}, {0.5, "heal", nodes[2], heal},
		{0.55, "SIGSTOP", nodes[0], stop}, {0.7, "SIGCONT", nodes[0], cont},
		{0.75, "kill -9", nodes[2], kill}, {0.9, "restart", nodes[2], restart},
	} {
		<-at(step.at)
		t.Logf("nemesis: %s %s", step.what, step.node.id)
		step.do(step.node)
	}
	<-at(1)
	close(stopWriting)
	wg.Wait()
	worst, group := watch.finish()
	t.Logf("longest span without a leader: %v (group %d)", worst.Round(time.Millisecond), group)
	if worst > leaderlessLimit {
		t.Fatalf("group %d had no leader for %v (limit %v)", group, worst, leaderlessLimit)
	}

	acked := 0
	for _, op := range ops {
		if op.ret != 0 {
			acked++
		}
	}
	t.Logf("%d writes, %d acked", len(ops), acked)
	if acked < len(ops)/2 {
		t.Fatalf("only %d of %d writes acked: the region was unavailable most of the run", acked, len(ops))
	}

	// Every node converges on the same logs.
	logs := make(map[string][]historyMsg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		same := true
		for _, conv := range convs {
			first := history(t, nodes[0].addr, conv)
			logs[conv] = first
			for _, n := range nodes[1:] {
				if h := history(t, n.addr, conv); !slices.Equal(h, first) {
					same = false
				}
			}
		}
		if same {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the nodes' logs did not converge within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Logs: gap-free, each client message once, every acked one at its seq.
	at2 := map[string]uint64{} // conv/cmid -> seq in the log
	for conv, log := range logs {
		for i, m := range log {
			if m.Seq != uint64(i+1) {
				t.Fatalf("%s: entry %d has seq %d (gap)", conv, i, m.Seq)
			}
			k := conv + "/" + m.ClientMsgID
			if _, dup := at2[k]; dup {
				t.Fatalf("%s: %s stored twice", conv, m.ClientMsgID)
			}
			at2[k] = m.Seq
		}
	}
	for _, op := range ops {
		if op.ret == 0 {
			continue
		}
		if s, ok := at2[op.conv+"/"+op.cmid]; !ok || s != op.seq {
			t.Fatalf("acked %s/%s at seq %d, log has it at %d (present %v)", op.conv, op.cmid, op.seq, s, ok)
		}
	}

	// Readers catch up with the whole log (they resume after their node
	// restarts), ...
	deadline = time.Now().Add(30 * time.Second)
	for caught := false; !caught; {
		caught = true
		rmu.Lock()
		for _, n := range nodes {
			for _, conv := range convs {
				if len(read[n.id+"/"+conv]) < len(logs[conv]) {
					caught = false
				}
			}
		}
		rmu.Unlock()
		if !caught && time.Now().After(deadline) {
			t.Fatal("readers did not receive the whole logs within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// ... per conversation, seqs only go up, and each names what the log
	// holds at that seq.
	rmu.Lock()
	for k, msgs := range read {
		conv := k[strings.Index(k, "/")+1:]
		for i, m := range msgs {
			if i > 0 && m.Seq <= msgs[i-1].Seq {
				t.Fatalf("reader %s: seq %d after %d", k, m.Seq, msgs[i-1].Seq)
			}
			if m.Seq > uint64(len(logs[conv])) || logs[conv][m.Seq-1].ClientMsgID != m.ClientMsgId {
				t.Fatalf("reader %s: seq %d is %s, the log disagrees", k, m.Seq, m.ClientMsgId)
			}
		}
	}
	rmu.Unlock()

	// Replicas: same applied index, state hash and leader per group.
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.addr
	}
	checkReplicasEqual(t, addrs)

	// Linearizability of the appends, per conversation.
	var hist []porcupine.Operation
	for i, op := range ops {
		ret := op.ret
		if ret == 0 {
			ret = 1 << 62 // no answer: it may take effect at any time after its call
		}
		hist = append(hist, porcupine.Operation{ClientId: i, Input: op, Call: op.call, Output: op.seq, Return: ret})
	}
	if res := porcupine.CheckOperationsTimeout(appendLogModel, hist, 30*time.Second); res != porcupine.Ok {
		t.Fatalf("porcupine: the writes are not linearizable as appends to a log (%v)", res)
	}
}

// appendLogModel is a per-conversation append-only log with idempotent
// appends: state is the client message ids in order; an append of a new
// id returns its position (1-based), a repeated id its first position; a
// write without an answer (output 0) may have happened or not.
var appendLogModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			c := op.Input.(appendOp).conv
			if _, ok := by[c]; !ok {
				keys = append(keys, c)
			}
			by[c] = append(by[c], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		log, cmid, seq := state.(string), input.(appendOp).cmid, output.(uint64)
		var ids []string
		if log != "" {
			ids = strings.Split(log, "\x00")
		}
		if i := slices.Index(ids, cmid); i >= 0 {
			return seq == 0 || seq == uint64(i+1), log
		}
		if seq != 0 && seq != uint64(len(ids)+1) {
			return false, log
		}
		if log == "" {
			return true, cmid
		}
		return true, log + "\x00" + cmid
	},
}

// TestAppendLogModel: the checker's model refuses a history where a
// write acked before another began got the later seq, and accepts the
// same writes in real-time order.
func TestAppendLogModel(t *testing.T) {
	op := func(id int, cmid string, call, ret int64, seq uint64) porcupine.Operation {
		return porcupine.Operation{ClientId: id, Input: appendOp{conv: "c", cmid: cmid}, Call: call, Return: ret, Output: seq}
	}
	bad := []porcupine.Operation{op(0, "a", 0, 10, 2), op(1, "b", 20, 30, 1)}
	if porcupine.CheckOperations(appendLogModel, bad) {
		t.Fatal("accepted b at seq 1 although a was acked at seq 2 before b began")
	}
	good := []porcupine.Operation{op(0, "a", 0, 10, 1), op(1, "b", 20, 30, 2), op(2, "a", 40, 50, 1), op(3, "x", 5, 1<<62, 0)}
	if !porcupine.CheckOperations(appendLogModel, good) {
		t.Fatal("refused a linearizable history (with a resend and an unanswered write)")
	}
	dup := []porcupine.Operation{op(0, "a", 0, 10, 1), op(1, "a", 20, 30, 2)}
	if porcupine.CheckOperations(appendLogModel, dup) {
		t.Fatal("accepted a resend stored at a second seq")
	}
}
