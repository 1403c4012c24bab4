package transport

import (
	"bytes"
	"sync/atomic"
	"testing"
)

// directPair builds the client and server ends of one direct path from
// fixed secrets (no QUIC connection).
func directPair(t testing.TB) (client, server *directPath, dropped *atomic.Uint64) {
	t.Helper()
	dropped = new(atomic.Uint64)
	id := bytes.Repeat([]byte{7}, directIDLen)
	c2s := bytes.Repeat([]byte{1}, directKeyLen+directIVLen)
	s2c := bytes.Repeat([]byte{2}, directKeyLen+directIVLen)
	var err error
	if client, err = newDirectPathKeys(id, c2s, s2c, false, dropped); err != nil {
		t.Fatal(err)
	}
	if server, err = newDirectPathKeys(id, c2s, s2c, true, dropped); err != nil {
		t.Fatal(err)
	}
	return client, server, dropped
}

// received drains what deliver queued.
func received(p *directPath) [][]byte {
	var out [][]byte
	for {
		select {
		case b := <-p.in:
			out = append(out, b)
		default:
			return out
		}
	}
}

// TestDirectPathSealOpen: a packet sealed by one end opens at the other,
// in both directions, and not at the end that sealed it (each direction
// has its own key); a flipped bit anywhere is refused.
func TestDirectPathSealOpen(t *testing.T) {
	c, s, dropped := directPair(t)
	pkt, err := c.sealNext(nil, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkt) != len("hello")+directOverhead || pkt[0] != directTag || pkt[0]&0xc0 != 0 {
		t.Fatalf("packet % x", pkt)
	}
	s.deliver(pkt)
	if got := received(s); len(got) != 1 || string(got[0]) != "hello" {
		t.Fatalf("server got %q", got)
	}
	c.deliver(pkt) // the client's own direction
	if got := received(c); len(got) != 0 || dropped.Load() != 1 {
		t.Fatalf("a packet opened with the sender's key: %q", got)
	}
	back, _ := s.sealNext(nil, []byte("world"))
	c.deliver(back)
	if got := received(c); len(got) != 1 || string(got[0]) != "world" {
		t.Fatalf("client got %q", got)
	}
	for i := range pkt {
		bad := bytes.Clone(pkt)
		bad[i] ^= 0x10
		before := dropped.Load()
		s.deliver(bad)
		if len(received(s)) != 0 || dropped.Load() != before+1 {
			t.Fatalf("packet with byte %d flipped accepted", i)
		}
	}
}

// TestDirectPathReplayWindow: repeats are dropped, reordering within the
// 64-packet window is accepted, older packets are dropped, and the loss
// report counts distinct packets against the highest number.
func TestDirectPathReplayWindow(t *testing.T) {
	c, s, dropped := directPair(t)
	var pkts [][]byte
	for i := range 100 {
		p, err := c.sealNext(nil, []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, p)
	}
	s.deliver(pkts[5])
	s.deliver(pkts[3]) // reordered: accepted
	s.deliver(pkts[5]) // repeat
	s.deliver(pkts[3]) // repeat
	s.deliver(pkts[90])
	s.deliver(pkts[10]) // 80 behind the highest: outside the window
	s.deliver(pkts[40]) // 50 behind: inside
	got := received(s)
	want := []byte{5, 3, 90, 40}
	if len(got) != len(want) {
		t.Fatalf("accepted %d packets, want %d", len(got), len(want))
	}
	for i, b := range got {
		if b[0] != want[i] {
			t.Fatalf("packet %d carries %d, want %d", i, b[0], want[i])
		}
	}
	if dropped.Load() != 3 {
		t.Fatalf("dropped %d, want 3", dropped.Load())
	}
	if rcvd, highest := s.lossReport(); rcvd != 4 || highest != 91 {
		t.Fatalf("loss report %d of %d, want 4 of 91", rcvd, highest)
	}
}

// TestDirectMuxRoutesByID: packets reach the path with their id; others
// are counted and dropped.
func TestDirectMuxRoutesByID(t *testing.T) {
	c, s, _ := directPair(t)
	var unknown atomic.Uint64
	m := directMux{unknown: &unknown}
	if !m.add(s) || m.add(s) {
		t.Fatal("add: first must succeed, a second path with the same id must not")
	}
	pkt, _ := c.sealNext(nil, []byte("x"))
	m.route(pkt)
	other := bytes.Clone(pkt)
	other[1] ^= 0xff // another id
	m.route(other)
	m.route([]byte{0x00, 1, 2})
	if len(received(s)) != 1 || unknown.Load() != 2 {
		t.Fatalf("unknown %d", unknown.Load())
	}
	m.remove(s)
	m.route(pkt)
	if unknown.Load() != 3 {
		t.Fatal("a removed path still receives")
	}
}

// FuzzDirectPacket: whatever arrives on the socket, deliver never panics,
// accepts only packets sealed with the peer's key, and keeps its receive
// accounting consistent.
func FuzzDirectPacket(f *testing.F) {
	c, _, _ := directPair(f)
	for i := range 3 {
		p, _ := c.sealNext(nil, bytes.Repeat([]byte{byte(i)}, 10*i+1))
		f.Add(p)
	}
	f.Add([]byte{directTag})
	f.Add([]byte{0x40, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, s, dropped := directPair(t)
		m := directMux{unknown: dropped}
		m.add(s)
		m.route(b)
		got := received(s)
		if len(got) > 1 || len(got)+int(dropped.Load()) != 1 {
			t.Fatalf("%d delivered, %d dropped for one packet", len(got), dropped.Load())
		}
		if rcvd, highest := s.lossReport(); rcvd > highest || rcvd != uint64(len(got)) {
			t.Fatalf("loss report %d of %d after %d packets", rcvd, highest, len(got))
		}
		if len(got) == 1 && len(got[0]) != len(b)-directOverhead {
			t.Fatalf("opened %d bytes from a %d-byte packet", len(got[0]), len(b))
		}
	})
}
