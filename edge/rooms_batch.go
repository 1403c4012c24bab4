package edge

import (
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/transport"
)

// Adaptive room batching.
//
// A room gathers comments for RoomBatchWindow, then fans the batch out: one
// shared frame queued to every viewer, each viewer's writer sending it. The
// fan-out cost is per frame (a write system call per viewer), not per
// comment, so at high comment rates a fixed window would let frames per
// second (batches/s x viewers) outgrow the CPU, queues build up, and
// latency climbs without bound. So a room also waits, before its next
// fan-out, until the previous one is mostly written: the next batch goes
// when RoomFanoutQuorum of the previous batch's viewers have written it (or
// dropped it, or left), or at the latest RoomBatchMaxDelay after that
// fan-out started, so that slow or stuck viewers never hold the room back.
// Batches therefore grow with load instead of multiplying: frames per
// second settle at what the node can write, and a comment waits at most
// about one window plus one fan-out.

// liveBatch tracks one fan-out: how many viewers still have to write it.
type liveBatch struct {
	room      *room
	started   time.Time
	comments  uint64 // in the batch: what a viewer loses if it is dropped
	remaining atomic.Int64
	// trigger is the remaining count at which the room may send its next
	// batch; the viewer whose done() reaches it (exactly one) kicks the
	// room.
	trigger int64
}

// liveItem is one queued room batch of a viewer.
type liveItem struct {
	frame *transport.SharedFrame
	batch *liveBatch
}

// done records that one viewer wrote, dropped or abandoned the batch.
func (b *liveBatch) done() {
	if b == nil {
		return
	}
	if b.remaining.Add(-1) == b.trigger {
		b.room.fanoutDone(b)
	}
}

// size returns the number of comments in the batch (0 for nil).
func (b *liveBatch) size() uint64 {
	if b == nil {
		return 0
	}
	return b.comments
}

// reached reports whether the quorum of viewers has written the batch.
func (b *liveBatch) reached() bool { return b.remaining.Load() <= b.trigger }

// releaseLive marks queued batches as handled without writing them.
func releaseLive(items []liveItem) {
	for _, it := range items {
		it.batch.done()
	}
}

// quorumTrigger returns the remaining-viewer count at which a fan-out to n
// viewers counts as done.
func quorumTrigger(n int, quorum float64) int64 {
	t := int64(float64(n) * (1 - quorum))
	if t >= int64(n) {
		t = int64(n) - 1
	}
	return max(t, 0)
}
