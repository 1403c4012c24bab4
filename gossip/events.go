package gossip

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// EventType says what happened to a member.
type EventType uint8

// Membership event types.
const (
	// EventJoin: a node became alive (joined, or came back after being
	// declared dead or having left).
	EventJoin EventType = iota
	// EventUpdate: a member's metadata changed.
	EventUpdate
	// EventLeave: a node left gracefully (Leave).
	EventLeave
	// EventDead: a node was declared dead after failing probes and the
	// suspicion timeout (crash, kill, partition).
	EventDead
)

func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventDead:
		return "dead"
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// Event is a membership change seen by this node.
type Event struct {
	Type   EventType
	Member Member
	// Time is when this node learned of the change.
	Time time.Time
}

// DefaultEventBuffer is the subscription buffer used when Subscribe is given
// a size below 1.
const DefaultEventBuffer = 256

// Subscription receives membership events.
//
// Delivery policy: events are produced inside memberlist's goroutines (with
// its node lock held), which must never block, so each subscription has a
// bounded buffer and an event that does not fit is dropped and counted
// (Dropped, and Stats.EventsDropped). Events of one subscription arrive in the
// order this node saw them. A consumer that sees drops, or that needs the
// state before it subscribed, re-reads Cluster.Members, which is always
// complete.
type Subscription struct {
	c       *Cluster
	ch      chan Event
	dropped atomic.Uint64
	closed  bool // guarded by c.subsMu
}

// Events returns the channel events arrive on. It is closed by Close and by
// the cluster's Shutdown.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Dropped reports how many events did not fit in the buffer.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close stops delivery and closes the Events channel. It is idempotent.
func (s *Subscription) Close() {
	s.c.subsMu.Lock()
	defer s.c.subsMu.Unlock()
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	delete(s.c.subs, s)
	close(s.ch)
}

// Subscribe starts delivering membership events with a buffer of the given
// size (DefaultEventBuffer if below 1). Events before the call are not
// replayed: read Members after subscribing for the current view. After
// Shutdown it returns a subscription whose channel is already closed.
func (c *Cluster) Subscribe(buffer int) *Subscription {
	if buffer < 1 {
		buffer = DefaultEventBuffer
	}
	s := &Subscription{c: c, ch: make(chan Event, buffer)}
	c.subsMu.Lock()
	defer c.subsMu.Unlock()
	if c.subsClosed {
		s.closed = true
		close(s.ch)
		return s
	}
	c.subs[s] = struct{}{}
	return s
}

// publish hands ev to every subscriber without blocking.
func (c *Cluster) publish(ev Event) {
	c.subsMu.Lock()
	defer c.subsMu.Unlock()
	for s := range c.subs {
		select {
		case s.ch <- ev:
		default:
			s.dropped.Add(1)
			c.eventsDropped.Add(1)
		}
	}
}

// closeSubs closes every subscription; later Subscribe calls get closed ones.
func (c *Cluster) closeSubs() {
	c.subsMu.Lock()
	defer c.subsMu.Unlock()
	c.subsClosed = true
	for s := range c.subs {
		s.closeLocked()
	}
}

// eventDelegate adapts memberlist's callbacks. They run in memberlist's
// goroutines with its node lock held: they only touch the cluster's own
// state and never call back into memberlist.
type eventDelegate struct{ c *Cluster }

func (d eventDelegate) NotifyJoin(n *memberlist.Node) {
	m := d.c.member(n)
	d.c.setMember(m)
	d.c.publish(Event{Type: EventJoin, Member: m, Time: time.Now()})
}

func (d eventDelegate) NotifyUpdate(n *memberlist.Node) {
	m := d.c.member(n)
	d.c.setMember(m)
	d.c.publish(Event{Type: EventUpdate, Member: m, Time: time.Now()})
}

func (d eventDelegate) NotifyLeave(n *memberlist.Node) {
	// memberlist v0.7.0 never fills Node.State (its nodeState shadows the
	// field), so a departure is told from a failure by the Leaving flag the
	// node set in its metadata before announcing it (Cluster.Leave).
	m := d.c.member(n)
	typ := EventDead
	m.State = StateDead
	if m.MetaOK && m.Meta.Leaving {
		typ, m.State = EventLeave, StateLeft
	}
	d.c.setMember(m)
	d.c.publish(Event{Type: typ, Member: m, Time: time.Now()})
}

// metaDelegate serves this node's encoded metadata to memberlist.
type metaDelegate struct{ c *Cluster }

func (d metaDelegate) NodeMeta(limit int) []byte {
	b := *d.c.metaBuf.Load()
	if len(b) > limit {
		// Cannot happen: UpdateMeta refuses metadata over MaxMetaSize,
		// which is memberlist's limit. Advertise none rather than panic.
		return nil
	}
	return b
}

func (metaDelegate) NotifyMsg([]byte)                    {}
func (metaDelegate) GetBroadcasts(int, int) [][]byte     { return nil }
func (metaDelegate) LocalState(bool) []byte              { return nil }
func (metaDelegate) MergeRemoteState(buf []byte, _ bool) {}
