package raftgroup

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// testView is a membership view the test controls.
type testView struct {
	mu sync.Mutex
	m  map[string]Member
}

func (v *testView) members() []Member {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []Member
	for _, m := range v.m {
		out = append(out, m)
	}
	return out
}

func (v *testView) set(id, addr string, st MemberState) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[string]Member{}
	}
	v.m[id] = Member{ID: id, Addr: addr, State: st}
}

// placed is a region under membership placement on loopback TCP.
type placed struct {
	t      *testing.T
	groups int
	grace  time.Duration
	// learners: the other members follow each group (Placement.Learners).
	learners bool
	view     testView
	blind    atomic.Bool // every node's view lists only itself
	mu       sync.Mutex  // guards nodes (the writer reads it)
	nodes    map[string]*muxNode
}

// newPlaced starts founders nodes (n0..), each founding the region.
func newPlaced(t *testing.T, founders, groups int, grace time.Duration, learners bool) *placed {
	c := &placed{t: t, groups: groups, grace: grace, learners: learners, nodes: map[string]*muxNode{}}
	var peers []Peer
	var ns []*muxNode
	for i := range founders {
		n := &muxNode{dir: t.TempDir(), addr: "127.0.0.1:0"}
		n.start(t, nodeID(i), nil, groups) // the address first
		peers = append(peers, Peer{ID: nodeID(i), Addr: n.addr})
		n.mux.Close()
		n.log.Close()
		n.st.Close()
		ns = append(ns, n)
	}
	for i, n := range ns {
		c.view.set(nodeID(i), n.addr, MemberAlive)
		n.placement = c.placement(n, nodeID(i))
		n.start(t, nodeID(i), peers, groups)
		c.nodes[nodeID(i)] = n
	}
	t.Cleanup(func() {
		for _, n := range c.live() {
			n.stop()
		}
	})
	return c
}

func (c *placed) placement(n *muxNode, self string) *Placement {
	members := func() []Member {
		if c.blind.Load() {
			return []Member{{ID: self, Addr: n.addr}}
		}
		return c.view.members()
	}
	return &Placement{Members: members, Replicas: 3, Grace: c.grace, Interval: 50 * time.Millisecond, Learners: c.learners}
}

// join starts a node that founds nothing: it waits to be added.
func (c *placed) join(id string) {
	n := &muxNode{dir: c.t.TempDir(), addr: "127.0.0.1:0"}
	n.placement = c.placement(n, id)
	n.start(c.t, id, nil, c.groups)
	c.mu.Lock()
	c.nodes[id] = n
	c.mu.Unlock()
	c.view.set(id, n.addr, MemberAlive)
	c.notify()
}

// kill stops a node and reports it dead.
func (c *placed) kill(id string) {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	n.stop()
	c.view.set(id, n.addr, MemberDead)
	c.notify()
}

func (c *placed) mark(id string, st MemberState) {
	c.view.set(id, c.node(id).addr, st)
	c.notify()
}

func (c *placed) node(id string) *muxNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

func (c *placed) live() []*muxNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*muxNode
	for _, id := range slices.Sorted(mapKeys(c.nodes)) {
		out = append(out, c.nodes[id])
	}
	return out
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (c *placed) notify() {
	for _, n := range c.live() {
		n.node.MembershipChanged()
	}
}

// voters returns group g's voters as its leader sees them ("" if no
// live node leads it).
func (c *placed) voters(g uint32) (leader string, voters []string) {
	leader, voters, _ = c.servers(g)
	return leader, voters
}

// servers returns group g's voters and non-voters as its leader sees
// them ("" if no live node leads it).
func (c *placed) servers(g uint32) (leader string, voters, learners []string) {
	for _, n := range c.live() {
		r := n.node.Raft(g)
		if r.State() != raft.Leader {
			continue
		}
		f := r.GetConfiguration()
		if f.Error() != nil {
			return "", nil, nil
		}
		for _, s := range f.Configuration().Servers {
			if s.Suffrage == raft.Voter {
				voters = append(voters, string(s.ID))
			} else {
				learners = append(learners, string(s.ID))
			}
		}
		slices.Sort(voters)
		slices.Sort(learners)
		return n.node.o.NodeID, voters, learners
	}
	return "", nil, nil
}

// waitPlaced waits until every group's voters are exactly its top three
// among cands by rendezvous.
func (c *placed) waitPlaced(cands []string, why string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		bad := ""
		for g := range uint32(c.groups) {
			want := Place(g, cands, 3)
			slices.Sort(want)
			var wantL []string
			if c.learners {
				wantL = slices.DeleteFunc(slices.Clone(cands), func(id string) bool { return slices.Contains(want, id) })
				slices.Sort(wantL)
			}
			if leader, got, gotL := c.servers(g); leader == "" || !slices.Equal(got, want) || !slices.Equal(gotL, wantL) {
				bad = fmt.Sprintf("group %d: leader %q voters %v learners %v, want %v and %v", g, leader, got, gotL, want, wantL)
				break
			}
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: placement did not converge: %s", why, bad)
		}
		time.Sleep(20 * time.Millisecond) // polling: raft has no event for a committed configuration
	}
}

// waitPasses waits until every live node's controller made k more passes.
func (c *placed) waitPasses(k uint64) {
	c.t.Helper()
	start := map[*muxNode]uint64{}
	for _, n := range c.live() {
		start[n] = n.node.place.passes.Load()
	}
	deadline := time.Now().Add(10 * time.Second)
	for n, p := range start {
		for n.node.place.passes.Load() < p+k {
			if time.Now().After(deadline) {
				c.t.Fatal("the controllers made no pass")
			}
			c.notify()
			time.Sleep(5 * time.Millisecond) // polling the pass counter
		}
	}
}

// changes sums the configuration changes every live node made.
func (c *placed) changes() (n uint64) {
	for _, m := range c.live() {
		st := m.node.PlacementStats()
		n += st.Adds + st.Removes + st.Transfers + st.Learners + st.Demotes
	}
	return n
}

// writer appends to random live nodes until stopped, recording acks.
type writer struct {
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	acked map[string][]uint64
	errs  []error
}

func (c *placed) startWriter() *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{}), acked: map[string][]uint64{}}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			live := c.live()
			// The member may be killed meanwhile (stop clears its node):
			// read the node once, through the atomic pointer.
			m := live[rand.IntN(len(live))]
			node := m.live.Load()
			if node == nil {
				continue
			}
			conv := fmt.Sprintf("conv-%d", i%32)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			res, err := node.Append(ctx, req(conv, "u", i))
			cancel()
			w.mu.Lock()
			switch {
			case err != nil && m.live.Load() != node:
				// Killed during the call: a client would retry elsewhere;
				// only acked writes must survive.
			case err != nil:
				w.errs = append(w.errs, fmt.Errorf("write %d at %s: %w", i, node.o.NodeID, err))
			default:
				w.acked[conv] = append(w.acked[conv], res.Msg.GetSeq())
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// finish stops the writer and checks every acked write: gap-free seqs
// per conversation, each present at its group's leader.
func (c *placed) finish(w *writer) {
	c.t.Helper()
	close(w.stop)
	<-w.done
	for _, err := range w.errs {
		c.t.Error(err)
	}
	checkSeqs(c.t, w.acked)
	total := 0
	for conv, seqs := range w.acked {
		total += len(seqs)
		g := GroupOf(conv, c.groups)
		// The group's leader holds every acked write (once it applied
		// them: a new leader may still be applying).
		for deadline := time.Now().Add(10 * time.Second); ; {
			leader, _ := c.voters(g)
			var head uint64
			var err error
			if leader != "" {
				if head, err = c.node(leader).st.Head(conv); err == nil && head >= uint64(len(seqs)) {
					break
				}
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("%s: leader %q has head %d (%v), %d acked", conv, leader, head, err, len(seqs))
			}
			time.Sleep(10 * time.Millisecond) // polling: an election or an apply may be under way
		}
	}
	if total == 0 {
		c.t.Fatal("no write was acked")
	}
	c.t.Logf("%d writes acked", total)
}

// TestPlacementJoinAndDeath: three founders; a 4th and a 5th node join
// and every group converges to exactly the three voters rendezvous
// hashing picks among five; a node dies and, after the grace, its
// groups regain three voters among the four left. Writes go to random
// nodes all along (the joiners included, which forward through a
// desired replica before they are added), and no acked write is lost.
func TestPlacementJoinAndDeath(t *testing.T) {
	const groups = 8
	const grace = 2 * time.Second
	c := newPlaced(t, 3, groups, grace, false)
	c.waitPlaced(ids(3), "founders")
	w := c.startWriter()
	c.join("n3")
	c.join("n4")
	c.waitPlaced(ids(5), "after two joins")

	// The victim holds places in some groups.
	c.kill("n1")
	killed := time.Now()
	before := c.changes()
	c.waitPasses(2)
	if time.Since(killed) < grace && c.changes() != before {
		t.Fatalf("a dead node was replaced within its grace (%d changes)", c.changes()-before)
	}
	c.waitPlaced([]string{"n0", "n2", "n3", "n4"}, "after n1 died")
	if d := time.Since(killed); d < grace {
		t.Fatalf("n1 replaced after %v, before its grace of %v", d, grace)
	}
	c.finish(w)
}

// TestPlacementDrainAndReturn: a node reported dead that comes back
// within its grace keeps its places (no change at all); a draining node
// is replaced at once, leaderships included.
func TestPlacementDrainAndReturn(t *testing.T) {
	const groups = 8
	c := newPlaced(t, 4, groups, time.Minute, false)
	c.waitPlaced(ids(4), "founders")
	w := c.startWriter()
	before := c.changes()
	c.mark("n1", MemberDead)
	c.waitPasses(2)
	c.mark("n1", MemberAlive)
	c.waitPasses(2)
	if n := c.changes() - before; n != 0 {
		t.Fatalf("%d changes for a node that came back within its grace", n)
	}
	c.mark("n2", MemberGone)
	c.waitPlaced([]string{"n0", "n1", "n3"}, "after n2 began draining")
	c.finish(w)
}

// TestPlacementLearners: with Placement.Learners, each group keeps three
// voters and every other member follows it as a non-voter, so every
// node ends up with every acked write in its own store (the edge
// delivers from there); a draining node leaves every group.
func TestPlacementLearners(t *testing.T) {
	const groups = 4
	c := newPlaced(t, 3, groups, time.Minute, true)
	c.waitPlaced(ids(3), "founders")
	w := c.startWriter()
	c.join("n3")
	c.join("n4")
	c.waitPlaced(ids(5), "after two joins")
	c.mark("n0", MemberGone)
	c.waitPlaced([]string{"n1", "n2", "n3", "n4"}, "after n0 began draining")
	c.finish(w)
	deadline := time.Now().Add(20 * time.Second)
	for _, id := range []string{"n1", "n2", "n3", "n4"} {
		for conv, seqs := range w.acked {
			for {
				head, err := c.node(id).st.Head(conv)
				if err != nil {
					t.Fatal(err)
				}
				if head >= uint64(len(seqs)) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: %s has head %d, %d acked", conv, id, head, len(seqs))
				}
				time.Sleep(10 * time.Millisecond) // polling the replica's store
			}
		}
	}
}

// TestPlacementBlindViewRemovesNothing: nodes whose view lists only
// themselves (a restarted node before gossip answered) take no voter
// out: a server missing from the view waits the grace like a dead one.
func TestPlacementBlindViewRemovesNothing(t *testing.T) {
	const groups = 4
	c := newPlaced(t, 3, groups, time.Minute, false)
	c.waitPlaced(ids(3), "founders")
	before := c.changes()
	c.blind.Store(true)
	c.waitPasses(3)
	if n := c.changes() - before; n != 0 {
		t.Fatalf("%d changes with views that list only their own node", n)
	}
	c.blind.Store(false)
	c.waitPlaced(ids(3), "after the views came back")
}

// TestPlacementUnreachableStaysLearner: a member the view reports alive
// but whose Raft address answers nothing (a wrong --raft-advertise) is
// added as a learner and never promoted: the groups of a region founded
// by one node keep their single voter, and writes go on.
func TestPlacementUnreachableStaysLearner(t *testing.T) {
	const groups = 4
	c := newPlaced(t, 1, groups, time.Minute, false)
	c.waitPlaced(ids(1), "founder")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ghost := ln.Addr().String()
	ln.Close() // nothing answers there
	c.view.set("ghost", ghost, MemberAlive)
	c.notify()
	deadline := time.Now().Add(10 * time.Second)
	for g := uint32(0); g < groups; {
		if _, voters, learners := c.servers(g); slices.Equal(learners, []string{"ghost"}) {
			if !slices.Equal(voters, []string{"n0"}) {
				t.Fatalf("group %d: voters %v", g, voters)
			}
			g++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %d: the unreachable member was not added as a learner", g)
		}
		time.Sleep(10 * time.Millisecond) // polling the configuration
	}
	c.waitPasses(5)
	for g := range uint32(groups) {
		if _, voters, _ := c.servers(g); !slices.Equal(voters, []string{"n0"}) {
			t.Fatalf("group %d: an unreachable member was promoted: voters %v", g, voters)
		}
	}
	for i := range 8 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.node("n0").node.Append(ctx, req(fmt.Sprintf("conv-%d", i), "u", i))
		cancel()
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}
