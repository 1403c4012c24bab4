package ordering

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edge/store"
	"github.com/edgegate/edgegate/transport/pb"
)

var quiet = slog.New(slog.DiscardHandler)

// openStore opens a store in dir, closed at the end of the test.
func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, store.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("store Close: %v", err)
		}
	})
	return st
}

// newLocal starts a Local on st, closed at the end of the test (before the
// store, since cleanups run last-in first-out).
func newLocal(t testing.TB, st *store.Store, o LocalOptions) *Local {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet
	}
	l, err := NewLocal(st, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// gate blocks the appender inside OnCommit so a test can queue requests
// that will form the next batch. The first commit enters the gate; the
// test waits for entered, queues more, then closes release.
type gate struct {
	once    sync.Once
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	commits [][]*pb.Message
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) onCommit(msgs []*pb.Message) {
	g.mu.Lock()
	g.commits = append(g.commits, msgs)
	g.mu.Unlock()
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
}

func (g *gate) batches() [][]*pb.Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]*pb.Message(nil), g.commits...)
}

// waitQueued waits until n requests wait in l's queue (a condition, not
// an event, so it polls).
func waitQueued(t *testing.T, l *Local, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(l.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("queue has %d requests, want %d", len(l.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// appendResult is an asynchronous Append's outcome.
type appendResult struct {
	res Result
	err error
}

// appendAsync runs Append in a goroutine tracked by wg.
func appendAsync(ctx context.Context, wg *sync.WaitGroup, l *Local, r Request) <-chan appendResult {
	ch := make(chan appendResult, 1)
	wg.Go(func() {
		res, err := l.Append(ctx, r)
		ch <- appendResult{res, err}
	})
	return ch
}

func req(conv, sender, id string) Request {
	return Request{Conv: conv, Sender: sender, SenderDevice: "dev", ClientMsgID: id, Body: []byte(conv + "/" + id)}
}

// quitSignal is closed when Close has begun.
func (l *Local) quitSignal() <-chan struct{} { return l.quit }
