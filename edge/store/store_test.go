package store

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/edgegate/edgegate/transport/pb"
)

var quiet = slog.New(slog.DiscardHandler)

// openTest opens a store in dir and closes it at the end of the test.
func openTest(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet
	}
	s, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// seqMsgs returns messages from..from+n-1 of conv.
func seqMsgs(conv string, from uint64, n int) []*pb.Message {
	out := make([]*pb.Message, n)
	for i := range out {
		seq := from + uint64(i)
		out[i] = &pb.Message{
			Conversation: conv, Seq: seq, Sender: "alice", SenderDevice: "phone",
			ServerTimeMs: int64(1000 + seq), Body: fmt.Appendf(nil, "%s-%d", conv, seq),
			ClientMsgId: fmt.Sprintf("%s-id-%d", conv, seq), Class: pb.DeliveryClass_DELIVERY_CLASS_ORDERED,
		}
	}
	return out
}

func seqsOf(msgs []*pb.Message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.GetSeq()
	}
	return out
}

func span(from, to uint64) []uint64 { // from..to inclusive, either direction
	var out []uint64
	if from <= to {
		for s := from; s <= to; s++ {
			out = append(out, s)
		}
		return out
	}
	for s := from; s >= to; s-- {
		out = append(out, s)
	}
	return out
}

func mustCommit(t testing.TB, s *Store, msgs []*pb.Message) {
	t.Helper()
	if err := s.CommitMessages(msgs); err != nil {
		t.Fatalf("CommitMessages: %v", err)
	}
}

func TestReadHistoryPaging(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	mustCommit(t, s, seqMsgs("a", 1, 10))
	mustCommit(t, s, append(seqMsgs("a", 11, 15), seqMsgs("a\x00", 1, 3)...))
	// "ab" sorts right after "a" without escaping; it must not leak in.
	mustCommit(t, s, seqMsgs("ab", 1, 4))

	tests := []struct {
		name    string
		history bool
		conv    string
		from    uint64
		limit   int
		want    []uint64
	}{
		{"read first page", false, "a", 0, 10, span(1, 10)},
		{"read second page", false, "a", 10, 10, span(11, 20)},
		{"read last page", false, "a", 20, 10, span(21, 25)},
		{"read past head", false, "a", 25, 10, nil},
		{"read max after", false, "a", ^uint64(0), 10, nil},
		{"read default limit", false, "a", 0, 0, span(1, 25)},
		{"read other conv", false, "a\x00", 0, 10, span(1, 3)},
		{"read unknown conv", false, "zz", 0, 10, nil},
		{"history newest", true, "a", 0, 10, span(25, 16)},
		{"history before 16", true, "a", 16, 10, span(15, 6)},
		{"history before 6", true, "a", 6, 10, span(5, 1)},
		{"history before 1", true, "a", 1, 10, nil},
		{"history before beyond head", true, "a", 1000, 3, span(25, 23)},
		{"history other conv", true, "ab", 0, 10, span(4, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []*pb.Message
			var err error
			if tt.history {
				got, err = s.History(tt.conv, tt.from, tt.limit)
			} else {
				got, err = s.Read(tt.conv, tt.from, tt.limit)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqsOf(got), tt.want) {
				t.Fatalf("seqs %v, want %v", seqsOf(got), tt.want)
			}
			for _, m := range got {
				if m.GetConversation() != tt.conv || string(m.GetBody()) != fmt.Sprintf("%s-%d", tt.conv, m.GetSeq()) {
					t.Fatalf("bad record %v", m)
				}
			}
		})
	}
}

func TestHeadGetDedup(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	if h, err := s.Head("a"); err != nil || h != 0 {
		t.Fatalf("empty head = %d, %v", h, err)
	}
	in := seqMsgs("a", 1, 3)
	in[1].ClientMsgId = "" // no dedup entry for this one
	mustCommit(t, s, in)
	if h, err := s.Head("a"); err != nil || h != 3 {
		t.Fatalf("head = %d, %v", h, err)
	}
	m, ok, err := s.Get("a", 3)
	if err != nil || !ok {
		t.Fatalf("Get: %v %v", ok, err)
	}
	if m.GetSender() != "alice" || m.GetSenderDevice() != "phone" || m.GetServerTimeMs() != 1003 ||
		m.GetClientMsgId() != "a-id-3" || m.GetClass() != pb.DeliveryClass_DELIVERY_CLASS_ORDERED {
		t.Fatalf("Get returned %v", m)
	}
	if _, ok, err := s.Get("a", 4); ok || err != nil {
		t.Fatalf("Get missing: %v %v", ok, err)
	}
	if seq, ok, err := s.Dedup("a", "alice", "a-id-3"); err != nil || !ok || seq != 3 {
		t.Fatalf("Dedup = %d %v %v", seq, ok, err)
	}
	for _, q := range [][3]string{{"a", "bob", "a-id-3"}, {"b", "alice", "a-id-3"}, {"a", "alice", ""}, {"a", "alice", "a-id-2"}} {
		if _, ok, err := s.Dedup(q[0], q[1], q[2]); ok || err != nil {
			t.Fatalf("Dedup%v = %v %v, want miss", q, ok, err)
		}
	}
}

func TestCommitRejects(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	mustCommit(t, s, seqMsgs("a", 1, 2))
	tests := []struct {
		name string
		msgs []*pb.Message
		want error
	}{
		{"gap", seqMsgs("a", 4, 1), ErrSeqConflict},
		{"repeat head", seqMsgs("a", 2, 1), ErrSeqConflict},
		{"new conv not at 1", seqMsgs("b", 2, 1), ErrSeqConflict},
		{"gap inside batch", append(seqMsgs("a", 3, 1), seqMsgs("a", 5, 1)...), ErrSeqConflict},
		{"reordered", append(seqMsgs("a", 4, 1), seqMsgs("a", 3, 1)...), ErrSeqConflict},
		{"good then bad conv", append(seqMsgs("c", 1, 2), seqMsgs("b", 5, 1)...), ErrSeqConflict},
		{"nil message", []*pb.Message{nil}, ErrInvalidArgument},
		{"empty conv", seqMsgs("", 1, 1), ErrInvalidArgument},
		{"seq zero", seqMsgs("b", 0, 1), ErrInvalidArgument},
		{"invalid utf8 id", seqMsgs("\xff", 1, 1), ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CommitMessages(tt.msgs); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// Nothing of the rejected batches landed.
	for conv, want := range map[string]uint64{"a": 2, "b": 0, "c": 0} {
		if h, err := s.Head(conv); err != nil || h != want {
			t.Fatalf("head(%q) = %d, %v; want %d", conv, h, err, want)
		}
	}
	if msgs, _ := s.Read("c", 0, 10); len(msgs) != 0 {
		t.Fatalf("rejected batch wrote %v", msgs)
	}
	if err := s.CommitMessages(nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}

func TestLimits(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	mustCommit(t, s, seqMsgs("a", 1, MaxReadLimit+50))
	if _, err := s.Read("a", 0, -1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative Read limit: %v", err)
	}
	if _, err := s.History("a", 0, -1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative History limit: %v", err)
	}
	for _, limit := range []int{0, MaxReadLimit + 1, 1 << 30} {
		want := MaxReadLimit
		if limit == 0 {
			want = DefaultReadLimit
		}
		got, err := s.Read("a", 0, limit)
		if err != nil || len(got) != want {
			t.Fatalf("Read limit %d: %d msgs, %v; want %d", limit, len(got), err, want)
		}
		got, err = s.History("a", 0, limit)
		if err != nil || len(got) != want {
			t.Fatalf("History limit %d: %d msgs, %v; want %d", limit, len(got), err, want)
		}
	}
}

func TestPositionsMonotonic(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	steps := []struct {
		set  map[string]uint64
		want map[string]uint64
	}{
		{map[string]uint64{"a": 5, "b": 2}, map[string]uint64{"a": 5, "b": 2}},
		{map[string]uint64{"a": 3, "b": 9}, map[string]uint64{"a": 5, "b": 9}},
		{map[string]uint64{"a": 5, "c\x00": 1}, map[string]uint64{"a": 5, "b": 9, "c\x00": 1}},
		{map[string]uint64{"a": 0}, map[string]uint64{"a": 5, "b": 9, "c\x00": 1}},
		{nil, map[string]uint64{"a": 5, "b": 9, "c\x00": 1}},
	}
	for i, st := range steps {
		if err := s.SetPositions("u", "d", st.set); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, err := s.Positions("u", "d")
		if err != nil {
			t.Fatal(err)
		}
		if !mapsEqual(got, st.want) {
			t.Fatalf("step %d: positions %v, want %v", i, got, st.want)
		}
	}
	// Devices and users whose ids prefix each other stay separate.
	if err := s.SetPositions("u", "d\x00", map[string]uint64{"x": 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPositions("u\x00\x01d", "", map[string]uint64{"y": 1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Positions("u", "d"); len(got) != 3 {
		t.Fatalf("(u,d) sees other devices: %v", got)
	}
	if got, _ := s.Positions("u", "d\x00"); !mapsEqual(got, map[string]uint64{"x": 1}) {
		t.Fatalf("(u,d\\0) = %v", got)
	}
	if got, _ := s.Positions("u\x00\x01d", ""); !mapsEqual(got, map[string]uint64{"y": 1}) {
		t.Fatalf("(u\\0\\1d,'') = %v", got)
	}
	if got, err := s.Positions("nobody", "d"); err != nil || len(got) != 0 {
		t.Fatalf("unknown user: %v %v", got, err)
	}
}

func TestPositionsConcurrentMax(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				v := uint64(i*4 + g)
				if err := s.SetPositions("u", "d", map[string]uint64{"a": v}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, _ := s.Positions("u", "d"); got["a"] != 49*4+3 {
		t.Fatalf("position %d, want %d", got["a"], 49*4+3)
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, seqMsgs("a", 1, 7))
	mustCommit(t, s, seqMsgs("b", 1, 2))
	if err := s.SetPositions("u", "d", map[string]uint64{"a": 4}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	checkClosed(t, s)

	s = openTest(t, dir, Options{})
	if h, _ := s.Head("a"); h != 7 {
		t.Fatalf("head a = %d", h)
	}
	got, err := s.Read("a", 0, 100)
	if err != nil || !slices.Equal(seqsOf(got), span(1, 7)) {
		t.Fatalf("read after reopen: %v %v", seqsOf(got), err)
	}
	if seq, ok, _ := s.Dedup("b", "alice", "b-id-2"); !ok || seq != 2 {
		t.Fatalf("dedup after reopen: %d %v", seq, ok)
	}
	if p, _ := s.Positions("u", "d"); p["a"] != 4 {
		t.Fatalf("positions after reopen: %v", p)
	}
	mustCommit(t, s, seqMsgs("a", 8, 1)) // continues the persisted head
}

func checkClosed(t *testing.T, s *Store) {
	t.Helper()
	errs := []error{s.CommitMessages(seqMsgs("a", 8, 1)), s.SetPositions("u", "d", map[string]uint64{"a": 9})}
	_, err := s.Head("a")
	errs = append(errs, err)
	_, _, err = s.Dedup("a", "b", "c")
	errs = append(errs, err)
	_, _, err = s.Get("a", 1)
	errs = append(errs, err)
	_, err = s.Read("a", 0, 1)
	errs = append(errs, err)
	_, err = s.History("a", 0, 1)
	errs = append(errs, err)
	_, err = s.Positions("u", "d")
	errs = append(errs, err)
	_, err = s.Metrics()
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("call %d after Close: %v, want ErrClosed", i, err)
		}
	}
}

func TestFormatVersionChecked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(formatKey, putUint64(99), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{Logger: quiet}); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("Open: %v, want ErrUnsupportedFormat", err)
	}
}

func TestCorruptRecordReported(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	mustCommit(t, s, seqMsgs("a", 1, 2))
	// A record stored under the wrong key must not be served as if it fit.
	rec, err := encodeRecord(seqMsgs("a", 1, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(logKey("a", 2), rec, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get("a", 2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get: %v", err)
	}
	if _, err := s.Read("a", 0, 10); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := []Options{{CacheBytes: -1}, {MemTableBytes: 2 << 30}, {MaxOpenFiles: -1}}
	for _, o := range bad {
		if err := o.Validate(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%+v: %v", o, err)
		}
		if _, err := Open(t.TempDir(), o); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Open %+v: %v", o, err)
		}
	}
	if _, err := Open("", Options{}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Open empty dir: %v", err)
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	mustCommit(t, s, seqMsgs("a", 1, 100))
	m, err := s.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if m.DiskBytes == 0 || m.MemTableBytes == 0 {
		t.Fatalf("metrics %+v", m)
	}
}

func TestConcurrentReadersAndCommits(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{NoSync: true})
	const n = 200
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := uint64(1); i <= n; i++ {
			if err := s.CommitMessages(seqMsgs("a", i, 1)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for {
				h, err := s.Head("a")
				if err != nil {
					t.Error(err)
					return
				}
				got, err := s.Read("a", 0, MaxReadLimit)
				if err != nil {
					t.Error(err)
					return
				}
				// The head is written in the same batch: everything up to it
				// is readable, in order, without gaps.
				if uint64(len(got)) < h || (len(got) > 0 && !slices.Equal(seqsOf(got), span(1, uint64(len(got))))) {
					t.Errorf("head %d but read %v", h, seqsOf(got))
					return
				}
				if h == n {
					return
				}
			}
		})
	}
	wg.Wait()
}
