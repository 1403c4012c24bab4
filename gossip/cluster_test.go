package gossip

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestLoopbackThreeNodes runs three nodes over real UDP and TCP on
// loopback: they join through a seed, see each other's metadata, see an
// update, and see a graceful Leave as left, not dead.
func TestLoopbackThreeNodes(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	start := func(id string, join ...string) *Cluster {
		c, err := New(Config{
			NodeID: id, BindAddr: "127.0.0.1:0", Join: join, Preset: PresetLocal, SecretKey: key,
			Meta:   Meta{Region: "eu", Zone: id, WSAddr: "ws://" + id + ":8080/ws", QUICAddr: id + ":4433", Health: 90, ProtocolVersion: 1},
			Logger: discardLogger(),
		})
		if err != nil {
			t.Fatalf("start %s: %v", id, err)
		}
		t.Cleanup(func() { _ = c.Shutdown() })
		return c
	}
	a := start("a")
	b := start("b", a.LocalAddr())
	c := start("c", a.LocalAddr())
	all := []*Cluster{a, b, c}

	// Polled: convergence is gossip spreading to every node, not one event.
	waitUntil(t, 10*time.Second, "3 alive members everywhere", func() bool {
		for _, n := range all {
			if n.Alive() != 3 {
				return false
			}
		}
		return true
	})
	for _, n := range all {
		for _, m := range n.Members() {
			if !m.MetaOK || m.Meta.NodeID != m.ID || m.Meta.Zone != m.ID || m.Meta.Region != "eu" || m.Meta.QUICAddr != m.ID+":4433" {
				t.Fatalf("%s sees %s with meta %+v (ok %v)", n.LocalID(), m.ID, m.Meta, m.MetaOK)
			}
			if !strings.HasPrefix(m.Addr, "127.0.0.1:") {
				t.Fatalf("%s sees %s at %q", n.LocalID(), m.ID, m.Addr)
			}
		}
	}

	// Every node has sent and received gossip, counted on the wire.
	for _, n := range all {
		if st := n.Stats(); st.BytesSent == 0 || st.BytesReceived == 0 {
			t.Fatalf("%s counted gossip bytes %+v", n.LocalID(), st)
		}
	}

	subA, subC := a.Subscribe(64), c.Subscribe(64)
	if err := b.UpdateMeta(func(m *Meta) { m.Health = 42; m.Connections = 7; m.Draining = true; m.NodeID = "ignored" }); err != nil {
		t.Fatal(err)
	}
	if got := b.LocalMeta(); got.NodeID != "b" || got.Health != 42 {
		t.Fatalf("b's local meta %+v", got)
	}
	for _, sub := range []*Subscription{subA, subC} {
		for {
			ev := awaitEvent(t, sub, "b", EventUpdate, 10*time.Second, nil)
			if ev.Member.Meta.Health == 42 {
				if !ev.Member.Meta.Draining || ev.Member.Meta.Connections != 7 || ev.Member.Meta.NodeID != "b" {
					t.Fatalf("update seen as %+v", ev.Member.Meta)
				}
				break
			}
		}
	}
	if m, _ := a.Member("b"); m.Meta.Health != 42 {
		t.Fatalf("a's view of b after update: %+v", m.Meta)
	}
	if err := b.UpdateMeta(func(m *Meta) { m.Health = 200 }); !errors.Is(err, ErrInvalidMeta) {
		t.Fatalf("health 200 accepted: %v", err)
	}

	if err := c.Leave(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if _, ok := <-subC.Events(); ok {
		// Drain what was buffered; the channel must end closed.
		for range subC.Events() {
		}
	}
	if err := c.Leave(time.Second); !errors.Is(err, ErrClosed) {
		t.Fatalf("Leave after Shutdown: %v", err)
	}
	notDead := func(ev Event) bool { return ev.Type == EventDead }
	awaitEvent(t, subA, "c", EventLeave, 10*time.Second, notDead)
	if m, ok := a.Member("c"); !ok || m.State != StateLeft {
		t.Fatalf("a sees c as %+v, want left", m)
	}
	waitUntil(t, 10*time.Second, "b to see c left", func() bool {
		m, ok := b.Member("c")
		return ok && m.State == StateLeft
	})
	if st := a.Stats(); st.MetaDecodeErrors != 0 {
		t.Fatalf("meta decode errors %d", st.MetaDecodeErrors)
	}
}

// TestWrongKeyCannotJoin: a node with another key, or none, cannot join an
// encrypted cluster and is never listed by it; one with the right key can.
func TestWrongKeyCannotJoin(t *testing.T) {
	mc := newMemCluster(t, 1, PresetLocal)
	good := []byte("correct horse battery staple 32b")
	start := func(id string, key []byte) (*Cluster, error) {
		tr := mc.net.NewTransport(id)
		c, err := New(Config{NodeID: id, Join: []string{mc.addrs["n00"]}, Preset: PresetLocal, Transport: tr, SecretKey: key, Logger: discardLogger()})
		if err == nil {
			mc.nodes[id] = c
			mc.addrs[id] = tr.Addr()
		}
		return c, err
	}
	tr := mc.net.NewTransport("n00")
	seed, err := New(Config{NodeID: "n00", Preset: PresetLocal, Transport: tr, SecretKey: good, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	mc.nodes["n00"], mc.addrs["n00"] = seed, tr.Addr()

	if _, err := start("bad", []byte("another key, also 32 bytes long!")); err == nil {
		t.Fatal("node with a different key joined")
	} else {
		t.Logf("wrong key: %v", err)
	}
	if _, err := start("plain", nil); err == nil {
		t.Fatal("node without a key joined an encrypted cluster")
	}
	ok, err := start("ok", good)
	if err != nil {
		t.Fatalf("right key: %v", err)
	}
	// The right-key node joined after the rejected ones: once the seed sees
	// it, any state the rejected ones could have left would be there too.
	waitUntil(t, 5*time.Second, "seed to see the right-key node", func() bool { return seed.Alive() == 2 })
	for _, c := range []*Cluster{seed, ok} {
		for _, id := range []string{"bad", "plain"} {
			if m, found := c.Member(id); found {
				t.Fatalf("%s lists rejected node %s: %+v", c.LocalID(), id, m)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want error
	}{
		{"no id", Config{}, ErrInvalidConfig},
		{"preset", Config{NodeID: "x", Preset: "lna"}, ErrInvalidConfig},
		{"key 15", Config{NodeID: "x", SecretKey: make([]byte, 15)}, ErrInvalidSecretKey},
		{"key 33", Config{NodeID: "x", SecretKey: make([]byte, 33)}, ErrInvalidSecretKey},
		{"bind", Config{NodeID: "x", BindAddr: "nohostport"}, ErrInvalidConfig},
		{"advertise", Config{NodeID: "x", AdvertiseAddr: "h:99999"}, ErrInvalidConfig},
		{"meta", Config{NodeID: "x", Meta: Meta{Health: 101}}, ErrInvalidMeta},
	}
	for _, tc := range cases {
		err := tc.cfg.Validate()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("%s: New accepted an invalid config", tc.name)
		}
	}
	for _, n := range []int{16, 24, 32} {
		cfg := Config{NodeID: "x", SecretKey: make([]byte, n)}
		if err := cfg.Validate(); err != nil {
			t.Errorf("key of %d bytes: %v", n, err)
		}
	}
	for _, p := range []Preset{"", PresetLAN, PresetWAN, PresetLocal} {
		cfg := Config{NodeID: "x", Preset: p}
		mc, err := cfg.memberlistConfig()
		if err != nil {
			t.Fatal(err)
		}
		want := map[Preset]time.Duration{"": time.Second, PresetLAN: time.Second, PresetWAN: 5 * time.Second, PresetLocal: time.Second}[p]
		if mc.ProbeInterval != want || mc.BindPort != 7946 {
			t.Errorf("preset %q: probe %v port %d", p, mc.ProbeInterval, mc.BindPort)
		}
	}
}

// garbageMeta is a memberlist delegate advertising metadata that is not in
// this package's format, as a node of an incompatible version would.
type garbageMeta struct{}

func (garbageMeta) NodeMeta(int) []byte                 { return []byte{0xee, 0xff, 0x01} }
func (garbageMeta) NotifyMsg([]byte)                    {}
func (garbageMeta) GetBroadcasts(int, int) [][]byte     { return nil }
func (garbageMeta) LocalState(bool) []byte              { return nil }
func (garbageMeta) MergeRemoteState(buf []byte, _ bool) {}

// TestUndecodableMetaCounted: a peer whose metadata does not decode is listed
// with MetaOK false and counted, never a panic.
func TestUndecodableMetaCounted(t *testing.T) {
	mc := newMemCluster(t, 2, PresetLocal)
	a := mc.start("n00")
	conf := memberlist.DefaultLocalConfig()
	conf.Name = "alien"
	conf.Transport = mc.net.NewTransport("alien")
	conf.Delegate = garbageMeta{}
	conf.Logger = newMemberlistLogger(discardLogger())
	ml, err := memberlist.Create(conf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ml.Shutdown() }()
	if _, err := ml.Join([]string{mc.addrs["n00"]}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "n00 to list the alien node", func() bool {
		_, ok := a.Member("alien")
		return ok
	})
	m, _ := a.Member("alien")
	if m.MetaOK || m.Meta != (Meta{}) || m.State != StateAlive {
		t.Fatalf("alien listed as %+v", m)
	}
	if a.Stats().MetaDecodeErrors == 0 {
		t.Fatal("decode error not counted")
	}
}

// TestSubscriptionDropsWhenFull: a full subscription drops and counts
// instead of blocking; Close and Shutdown close the channel.
func TestSubscriptionDropsWhenFull(t *testing.T) {
	mc := newMemCluster(t, 3, PresetLocal)
	c := mc.start("n00")
	slow := c.Subscribe(1)
	other := c.Subscribe(8)
	for i := range 3 {
		c.publish(Event{Type: EventUpdate, Member: Member{ID: nodeName(i)}})
	}
	if got := slow.Dropped(); got != 2 {
		t.Fatalf("slow subscriber dropped %d, want 2", got)
	}
	if ev := <-slow.Events(); ev.Member.ID != "n00" {
		t.Fatalf("slow subscriber kept %s, want the first event", ev.Member.ID)
	}
	if other.Dropped() != 0 || len(other.Events()) != 3 {
		t.Fatalf("roomy subscriber: dropped %d, queued %d", other.Dropped(), len(other.Events()))
	}
	if c.Stats().EventsDropped != 2 {
		t.Fatalf("stats dropped %d", c.Stats().EventsDropped)
	}
	slow.Close()
	slow.Close()
	if _, ok := <-slow.Events(); ok {
		t.Fatal("closed subscription still open")
	}
	mc.kill("n00")
	for range other.Events() {
	}
	late := c.Subscribe(0)
	if _, ok := <-late.Events(); ok {
		t.Fatal("subscription after Shutdown is open")
	}
	if err := c.UpdateMeta(func(*Meta) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("UpdateMeta after Shutdown: %v", err)
	}
}

type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func TestMemberlistLogLevels(t *testing.T) {
	h := &recordHandler{}
	l := newMemberlistLogger(slog.New(h))
	l.Printf("[DEBUG] memberlist: Stream connection from=1.2.3.4:5")
	l.Printf("[WARN] memberlist: Refuting a suspect message (from: x)")
	l.Printf("[ERR] memberlist: Failed to send ping: boom")
	l.Printf("no level")
	want := []struct {
		level slog.Level
		msg   string
	}{
		{slog.LevelDebug, "Stream connection from=1.2.3.4:5"},
		{slog.LevelWarn, "Refuting a suspect message (from: x)"},
		{slog.LevelError, "Failed to send ping: boom"},
		{slog.LevelInfo, "no level"},
	}
	if len(h.recs) != len(want) {
		t.Fatalf("%d records, want %d", len(h.recs), len(want))
	}
	for i, w := range want {
		if h.recs[i].Level != w.level || h.recs[i].Message != w.msg {
			var b bytes.Buffer
			b.WriteString(h.recs[i].Message)
			t.Errorf("record %d: %v %q, want %v %q", i, h.recs[i].Level, b.String(), w.level, w.msg)
		}
	}
}
