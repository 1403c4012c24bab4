package ordering

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edge/store"
	"github.com/edgegate/edgegate/transport/pb"
)

func TestAppendConcurrentGapFree(t *testing.T) {
	st := openStore(t, t.TempDir())
	var (
		mu        sync.Mutex
		committed = make(map[string][]uint64) // conv -> seqs in OnCommit order
	)
	l := newLocal(t, st, LocalOptions{OnCommit: func(msgs []*pb.Message) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			committed[m.GetConversation()] = append(committed[m.GetConversation()], m.GetSeq())
		}
	}})
	const goroutines, convs, perConv = 8, 4, 20
	type ack struct {
		conv string
		seq  uint64
	}
	acks := make(map[string]ack) // client id -> ack
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perConv {
				for c := range convs {
					conv := fmt.Sprintf("conv-%d", c)
					id := fmt.Sprintf("g%d-c%d-%d", g, c, i)
					res, err := l.Append(t.Context(), req(conv, fmt.Sprintf("user-%d", g), id))
					if err != nil {
						t.Errorf("Append %s: %v", id, err)
						return
					}
					if res.Duplicate || res.Msg.GetClientMsgId() != id || res.Msg.GetConversation() != conv {
						t.Errorf("Append %s: %+v", id, res)
					}
					mu.Lock()
					if prev, dup := acks[id]; dup {
						t.Errorf("id %s acked twice: %v and %v", id, prev, res.Msg.GetSeq())
					}
					acks[id] = ack{conv, res.Msg.GetSeq()}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	const total = goroutines * convs * perConv
	if len(acks) != total {
		t.Fatalf("%d acks, want %d", len(acks), total)
	}
	bySeq := make(map[string]map[uint64]string)
	for id, a := range acks {
		if bySeq[a.conv] == nil {
			bySeq[a.conv] = make(map[uint64]string)
		}
		if other, dup := bySeq[a.conv][a.seq]; dup {
			t.Fatalf("%s seq %d given to %s and %s", a.conv, a.seq, other, id)
		}
		bySeq[a.conv][a.seq] = id
	}
	want := make([]uint64, goroutines*perConv)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	for c := range convs {
		conv := fmt.Sprintf("conv-%d", c)
		if got := committed[conv]; !slices.Equal(got, want) {
			t.Fatalf("%s OnCommit order %v, want 1..%d", conv, got, len(want))
		}
		msgs, err := l.Read(t.Context(), conv, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range msgs {
			if m.GetSeq() != uint64(i+1) || bySeq[conv][m.GetSeq()] != m.GetClientMsgId() {
				t.Fatalf("%s stored %d = %v, acked id %q", conv, i, m, bySeq[conv][m.GetSeq()])
			}
		}
		if len(msgs) != len(want) {
			t.Fatalf("%s has %d stored, want %d", conv, len(msgs), len(want))
		}
		if h, _ := l.Head(t.Context(), conv); h != uint64(len(want)) {
			t.Fatalf("%s head %d", conv, h)
		}
	}
	s := l.Stats()
	if s.Messages != total || s.Duplicates != 0 || s.FailedCommits != 0 || s.Fsyncs > s.Messages || s.Fsyncs == 0 {
		t.Fatalf("stats %+v", s)
	}
	t.Logf("%d messages in %d fsyncs", s.Messages, s.Fsyncs)
}

// TestGroupCommitOneFsync checks that requests queued while a commit runs
// share the next commit.
func TestGroupCommitOneFsync(t *testing.T) {
	st := openStore(t, t.TempDir())
	g := newGate()
	l := newLocal(t, st, LocalOptions{OnCommit: g.onCommit})
	var wg sync.WaitGroup
	first := appendAsync(t.Context(), &wg, l, req("a", "u", "first"))
	<-g.entered
	const n = 10
	var rest []<-chan appendResult
	for i := range n {
		rest = append(rest, appendAsync(t.Context(), &wg, l, req(fmt.Sprintf("c%d", i%3), "u", fmt.Sprint(i))))
	}
	waitQueued(t, l, n)
	close(g.release)
	if r := <-first; r.err != nil || r.res.Msg.GetSeq() != 1 {
		t.Fatalf("first: %+v", r)
	}
	for _, ch := range rest {
		if r := <-ch; r.err != nil {
			t.Fatal(r.err)
		}
	}
	wg.Wait()
	s := l.Stats()
	if s.Fsyncs != 2 || s.LastBatchSize != n || s.Messages != n+1 {
		t.Fatalf("stats %+v, want 2 fsyncs, last batch %d", s, n)
	}
	// OnCommit got the second batch in seq order per conversation.
	b := g.batches()
	if len(b) != 2 || len(b[1]) != n {
		t.Fatalf("OnCommit batches %v", b)
	}
	last := map[string]uint64{}
	for _, m := range b[1] {
		if m.GetSeq() != last[m.GetConversation()]+1 {
			t.Fatalf("OnCommit out of order: %v", b[1])
		}
		last[m.GetConversation()] = m.GetSeq()
	}
}

func TestIdempotentResendSequential(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	l := newLocal(t, st, LocalOptions{})
	ctx := t.Context()
	r1, err := l.Append(ctx, req("a", "alice", "m1"))
	if err != nil || r1.Duplicate || r1.Msg.GetSeq() != 1 {
		t.Fatalf("first: %+v %v", r1, err)
	}
	resend := req("a", "alice", "m1")
	resend.Body = []byte("different body")
	r2, err := l.Append(ctx, resend)
	if err != nil || !r2.Duplicate || r2.Msg.GetSeq() != 1 || string(r2.Msg.GetBody()) != "a/m1" {
		t.Fatalf("resend: %+v %v", r2, err)
	}
	// Same id from another sender, or in another conv, is a new message.
	if r, err := l.Append(ctx, req("a", "bob", "m1")); err != nil || r.Duplicate || r.Msg.GetSeq() != 2 {
		t.Fatalf("other sender: %+v %v", r, err)
	}
	if r, err := l.Append(ctx, req("b", "alice", "m1")); err != nil || r.Duplicate || r.Msg.GetSeq() != 1 {
		t.Fatalf("other conv: %+v %v", r, err)
	}
	// Without an id there is no dedup.
	for want := uint64(3); want <= 4; want++ {
		if r, err := l.Append(ctx, req("a", "alice", "")); err != nil || r.Duplicate || r.Msg.GetSeq() != want {
			t.Fatalf("no id: %+v %v", r, err)
		}
	}
	// Dedup survives a restart of the orderer (it is in the store).
	l.Close()
	l2 := newLocal(t, st, LocalOptions{})
	if r, err := l2.Append(ctx, req("a", "alice", "m1")); err != nil || !r.Duplicate || r.Msg.GetSeq() != 1 {
		t.Fatalf("resend after restart: %+v %v", r, err)
	}
	if r, err := l2.Append(ctx, req("a", "alice", "m2")); err != nil || r.Msg.GetSeq() != 5 {
		t.Fatalf("new after restart: %+v %v", r, err)
	}
	if s := l2.Stats(); s.Duplicates != 1 || s.Messages != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestIdempotentResendWithinBatch(t *testing.T) {
	st := openStore(t, t.TempDir())
	g := newGate()
	l := newLocal(t, st, LocalOptions{OnCommit: g.onCommit})
	var wg sync.WaitGroup
	first := appendAsync(t.Context(), &wg, l, req("a", "alice", "m0"))
	<-g.entered
	var chs []<-chan appendResult
	for range 3 {
		chs = append(chs, appendAsync(t.Context(), &wg, l, req("a", "alice", "dup")))
	}
	other := appendAsync(t.Context(), &wg, l, req("a", "alice", "other"))
	waitQueued(t, l, 4)
	close(g.release)
	<-first
	var originals int
	seqs := map[uint64]bool{}
	for _, ch := range chs {
		r := <-ch
		if r.err != nil || r.res.Msg.GetClientMsgId() != "dup" {
			t.Fatalf("%+v", r)
		}
		seqs[r.res.Msg.GetSeq()] = true
		if !r.res.Duplicate {
			originals++
		}
	}
	wg.Wait()
	if originals != 1 || len(seqs) != 1 {
		t.Fatalf("%d non-duplicate answers, seqs %v; want 1 and one seq", originals, seqs)
	}
	o := <-other
	if o.err != nil {
		t.Fatal(o.err)
	}
	msgs, _ := st.Read("a", 0, 10)
	if len(msgs) != 3 {
		t.Fatalf("stored %d messages, want 3: %v", len(msgs), msgs)
	}
	seq, ok, _ := st.Dedup("a", "alice", "dup")
	if !ok || !seqs[seq] || seq == o.res.Msg.GetSeq() {
		t.Fatalf("dup stored at %d (ok %v), other at %d", seq, ok, o.res.Msg.GetSeq())
	}
	if s := l.Stats(); s.Duplicates != 2 || s.LastBatchSize != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCloseFailsPending(t *testing.T) {
	st := openStore(t, t.TempDir())
	g := newGate()
	l := newLocal(t, st, LocalOptions{OnCommit: g.onCommit})
	var wg sync.WaitGroup
	first := appendAsync(t.Context(), &wg, l, req("a", "u", "first"))
	<-g.entered
	var pending []<-chan appendResult
	for i := range 5 {
		pending = append(pending, appendAsync(t.Context(), &wg, l, req("a", "u", fmt.Sprint(i))))
	}
	waitQueued(t, l, 5)
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	<-l.quitSignal()
	close(g.release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if r := <-first; r.err != nil || r.res.Msg.GetSeq() != 1 {
		t.Fatalf("in-flight batch: %+v", r)
	}
	for _, ch := range pending {
		if r := <-ch; !errors.Is(r.err, ErrClosed) {
			t.Fatalf("pending: %+v, want ErrClosed", r)
		}
	}
	wg.Wait()
	if h, _ := st.Head("a"); h != 1 {
		t.Fatalf("head %d after Close; pending requests were written", h)
	}
	if _, err := l.Append(t.Context(), req("a", "u", "late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if _, err := l.Read(t.Context(), "a", 0, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if _, err := l.History(t.Context(), "a", 0, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("History after Close: %v", err)
	}
	if _, err := l.Head(t.Context(), "a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Head after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestAppendContext(t *testing.T) {
	st := openStore(t, t.TempDir())
	g := newGate()
	l := newLocal(t, st, LocalOptions{OnCommit: g.onCommit})

	done, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Append(done, req("a", "u", "x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}

	var wg sync.WaitGroup
	first := appendAsync(t.Context(), &wg, l, req("a", "u", "first"))
	<-g.entered
	ctx, cancel := context.WithCancel(t.Context())
	queued := appendAsync(ctx, &wg, l, req("a", "u", "gives-up"))
	waitQueued(t, l, 1)
	cancel()
	if r := <-queued; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("queued then cancelled: %+v", r)
	}
	dl, cancelDL := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancelDL()
	if _, err := l.Append(dl, req("a", "u", "deadline")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	close(g.release)
	<-first
	wg.Wait()
	// The appender reached the abandoned requests after their ctx ended and
	// dropped them; the next message continues without a gap.
	r, err := l.Append(t.Context(), req("a", "u", "next"))
	if err != nil || r.Msg.GetSeq() != 2 {
		t.Fatalf("next: %+v %v", r, err)
	}
	if _, ok, _ := st.Dedup("a", "u", "gives-up"); ok {
		t.Fatal("abandoned request was written")
	}
}

func TestOverloaded(t *testing.T) {
	st := openStore(t, t.TempDir())
	g := newGate()
	l := newLocal(t, st, LocalOptions{OnCommit: g.onCommit, QueueSize: 2})
	var wg sync.WaitGroup
	first := appendAsync(t.Context(), &wg, l, req("a", "u", "first"))
	<-g.entered
	q1 := appendAsync(t.Context(), &wg, l, req("a", "u", "1"))
	q2 := appendAsync(t.Context(), &wg, l, req("a", "u", "2"))
	waitQueued(t, l, 2)
	if _, err := l.Append(t.Context(), req("a", "u", "3")); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("full queue: %v", err)
	}
	if s := l.Stats(); s.Overloaded != 1 || s.Queued != 2 {
		t.Fatalf("stats %+v", s)
	}
	close(g.release)
	for _, ch := range []<-chan appendResult{first, q1, q2} {
		if r := <-ch; r.err != nil {
			t.Fatal(r.err)
		}
	}
	wg.Wait()
}

// TestCommitFailureResetsHeads makes a commit fail (the store's head moved
// behind the orderer's back) and checks that every request of the batch
// fails, no head advances, and the next append reloads the head.
func TestCommitFailureResetsHeads(t *testing.T) {
	st := openStore(t, t.TempDir())
	g := newGate()
	var mu sync.Mutex
	var seen []*pb.Message
	l := newLocal(t, st, LocalOptions{OnCommit: func(m []*pb.Message) {
		mu.Lock()
		seen = append(seen, m...)
		mu.Unlock()
		g.onCommit(m)
	}})
	var wg sync.WaitGroup
	first := appendAsync(t.Context(), &wg, l, req("a", "u", "1"))
	<-g.entered
	// Another writer takes seq 2 of "a"; the orderer's cache still says 1.
	if err := st.CommitMessages([]*pb.Message{{Conversation: "a", Seq: 2, Sender: "x"}}); err != nil {
		t.Fatal(err)
	}
	ra := appendAsync(t.Context(), &wg, l, req("a", "u", "2"))
	rb := appendAsync(t.Context(), &wg, l, req("b", "u", "1"))
	waitQueued(t, l, 2)
	close(g.release)
	<-first
	for _, ch := range []<-chan appendResult{ra, rb} {
		if r := <-ch; !errors.Is(r.err, store.ErrSeqConflict) {
			t.Fatalf("batch request: %+v, want ErrSeqConflict", r)
		}
	}
	wg.Wait()
	if s := l.Stats(); s.FailedCommits != 1 {
		t.Fatalf("stats %+v", s)
	}
	if r, err := l.Append(t.Context(), req("a", "u", "2")); err != nil || r.Msg.GetSeq() != 3 {
		t.Fatalf("after failure a: %+v %v", r, err)
	}
	if r, err := l.Append(t.Context(), req("b", "u", "1")); err != nil || r.Msg.GetSeq() != 1 {
		t.Fatalf("after failure b: %+v %v", r, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 { // first, a/3, b/1: the failed batch never reached OnCommit
		t.Fatalf("OnCommit saw %v", seen)
	}
}

func TestInvalidRequests(t *testing.T) {
	st := openStore(t, t.TempDir())
	l := newLocal(t, st, LocalOptions{})
	bad := []Request{
		{Sender: "u"},
		{Conv: "a"},
		{Conv: "a\xff", Sender: "u"},
		{Conv: "a", Sender: "u", ClientMsgID: "\xc3"},
		{Conv: "a", Sender: "u", SenderDevice: "\xff"},
	}
	for _, r := range bad {
		if _, err := l.Append(t.Context(), r); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%+v: %v", r, err)
		}
	}
	if _, err := NewLocal(nil, LocalOptions{}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("nil store: %v", err)
	}
	for _, o := range []LocalOptions{{Window: -1}, {Window: time.Hour}, {MaxBatch: -1}, {QueueSize: -1}, {HeadCacheSize: -1}} {
		if _, err := NewLocal(st, o); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestMessageFields(t *testing.T) {
	st := openStore(t, t.TempDir())
	now := time.UnixMilli(1_700_000_000_123)
	l := newLocal(t, st, LocalOptions{Now: func() time.Time { return now }})
	r, err := l.Append(t.Context(), Request{Conv: "a", Sender: "u", SenderDevice: "d", ClientMsgID: "m", Body: []byte("hi")})
	if err != nil {
		t.Fatal(err)
	}
	stored, ok, err := st.Get("a", 1)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	for _, m := range []*pb.Message{r.Msg, stored} {
		if m.GetSender() != "u" || m.GetSenderDevice() != "d" || m.GetClientMsgId() != "m" || string(m.GetBody()) != "hi" ||
			m.GetServerTimeMs() != now.UnixMilli() || m.GetClass() != pb.DeliveryClass_DELIVERY_CLASS_ORDERED {
			t.Fatalf("message %v", m)
		}
	}
	r, err = l.Append(t.Context(), Request{Conv: "a", Sender: "u", ServerTimeMs: 42})
	if err != nil || r.Msg.GetServerTimeMs() != 42 {
		t.Fatalf("explicit time: %+v %v", r, err)
	}
	hist, err := l.History(t.Context(), "a", 0, 10)
	if err != nil || len(hist) != 2 || hist[0].GetSeq() != 2 {
		t.Fatalf("history %v %v", hist, err)
	}
}

func TestWindowAndMaxBatch(t *testing.T) {
	st := openStore(t, t.TempDir())
	g := newGate()
	l := newLocal(t, st, LocalOptions{OnCommit: g.onCommit, MaxBatch: 4, Window: 20 * time.Millisecond})
	var wg sync.WaitGroup
	first := appendAsync(t.Context(), &wg, l, req("a", "u", "first"))
	<-g.entered
	var chs []<-chan appendResult
	for i := range 10 {
		chs = append(chs, appendAsync(t.Context(), &wg, l, req("a", "u", fmt.Sprint(i))))
	}
	waitQueued(t, l, 10)
	close(g.release)
	<-first
	for _, ch := range chs {
		if r := <-ch; r.err != nil {
			t.Fatal(r.err)
		}
	}
	wg.Wait()
	var sizes []int
	for _, b := range g.batches()[1:] {
		sizes = append(sizes, len(b))
	}
	if !slices.Equal(sizes, []int{4, 4, 2}) {
		t.Fatalf("batch sizes %v, want [4 4 2]", sizes)
	}
}

func TestHeadCacheEviction(t *testing.T) {
	st := openStore(t, t.TempDir())
	l := newLocal(t, st, LocalOptions{HeadCacheSize: 4})
	for round := range 2 {
		for c := range 10 {
			r, err := l.Append(t.Context(), req(fmt.Sprint(c), "u", ""))
			if err != nil || r.Msg.GetSeq() != uint64(round+1) {
				t.Fatalf("round %d conv %d: %+v %v", round, c, r, err)
			}
		}
	}
}
