package fec

import (
	"math/rand/v2"
	"testing"
)

// lossyNet is an in-process datagram network for tests: it marshals every
// packet, drops some (random or Gilbert-Elliott burst loss, or an explicit
// drop function), may duplicate and reorder, and parses what arrives.
type lossyNet struct {
	t   testing.TB
	rng *rand.Rand

	// p is the independent loss probability (when ge is false).
	p float64
	// Gilbert-Elliott: ge enables it; pGB and pBG are the transition
	// probabilities per packet; the bad state loses every packet.
	ge       bool
	pGB, pBG float64
	bad      bool
	// dropFn, when set, decides loss by the packet's position on the wire.
	dropFn func(seq int) bool

	dup     float64 // probability of sending a packet twice
	reorder float64 // probability of holding a packet back
	maxHold int     // packets a held packet waits at most

	seq  int
	held []heldPkt

	sent, dropped int
}

type heldPkt struct {
	b     []byte
	after int
}

func newLossyNet(t testing.TB, seed uint64) *lossyNet {
	return &lossyNet{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), maxHold: 5}
}

// burst configures Gilbert-Elliott loss with mean loss rate mean and mean
// burst length burst.
func (n *lossyNet) burst(mean, burst float64) {
	n.ge = true
	n.pBG = 1 / burst
	n.pGB = mean * n.pBG / (1 - mean)
}

func (n *lossyNet) lose() bool {
	seq := n.seq
	n.seq++
	if n.dropFn != nil {
		return n.dropFn(seq)
	}
	if n.ge {
		if n.bad {
			n.bad = n.rng.Float64() >= n.pBG
		} else {
			n.bad = n.rng.Float64() < n.pGB
		}
		return n.bad
	}
	return n.rng.Float64() < n.p
}

// send puts packets on the wire and returns those that arrive now.
func (n *lossyNet) send(pkts ...Packet) []Packet {
	var out []Packet
	for _, p := range pkts {
		b, err := MarshalPacket(p, Limits{})
		if err != nil {
			n.t.Fatalf("marshal %+v: %v", p, err)
		}
		n.sent++
		if n.lose() {
			n.dropped++
			continue
		}
		copies := 1
		if n.dup > 0 && n.rng.Float64() < n.dup {
			copies = 2
		}
		for range copies {
			if n.reorder > 0 && n.rng.Float64() < n.reorder {
				n.held = append(n.held, heldPkt{b, 1 + n.rng.IntN(n.maxHold)})
				continue
			}
			out = append(out, n.parse(b))
		}
		kept := n.held[:0]
		for _, h := range n.held {
			h.after--
			if h.after <= 0 {
				out = append(out, n.parse(h.b))
			} else {
				kept = append(kept, h)
			}
		}
		n.held = kept
	}
	return out
}

// drain returns every held packet.
func (n *lossyNet) drain() []Packet {
	var out []Packet
	for _, h := range n.held {
		out = append(out, n.parse(h.b))
	}
	n.held = nil
	return out
}

func (n *lossyNet) parse(b []byte) Packet {
	p, err := ParsePacket(b, Limits{})
	if err != nil {
		n.t.Fatalf("parse: %v", err)
	}
	return p
}

// crossTraffic advances the loss model over n packets of other flows
// sharing the link (they are neither delivered nor counted): with burst
// loss, what matters is how many packets pass between two of ours.
func (n *lossyNet) crossTraffic(count int) {
	for range count {
		n.lose()
	}
}
