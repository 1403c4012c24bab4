package fec

import (
	"fmt"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultK             = 8
	DefaultM             = 2
	DefaultMinM          = 1
	DefaultMaxM          = 6
	DefaultFlushInterval = 10 * time.Millisecond
	DefaultReorderSlack  = 20 * time.Millisecond
	DefaultTargetLoss    = 0.001
	DefaultMaxGroups     = 64
)

// Config configures an Encoder and a Decoder. The zero value is usable;
// each field documents its default. Both ends should use the same K and
// MaxDatagram (the decoder uses K for groups of which nothing arrived); the
// other fields only matter on the side that uses them.
type Config struct {
	// K is the number of data packets per group. Default 8.
	K int
	// M is the number of parity packets per group until the first
	// SetLossRate or feedback. Default 2.
	M int
	// MinM is the least parity per group adaptive parity picks. Default 1;
	// it cannot be 0, because parity packets also tell the receiver the
	// actual size of a group flushed early, which it needs to report
	// exactly which packets were lost.
	MinM int
	// MaxM caps adaptive parity. Default 6. K+MaxM must not exceed
	// MaxShards.
	MaxM int
	// TargetLoss is the probability of losing more than m packets of a
	// group (assuming independent loss) that adaptive parity aims under.
	// Default 0.001.
	TargetLoss float64
	// Interleave is the number of groups open at once; consecutive
	// packets go to them round-robin, so a burst of up to Interleave
	// consecutive losses costs each group at most one packet. Default 1
	// (off).
	Interleave int
	// FlushInterval is how long a group may stay open before the encoder
	// emits parity for the data it has (Encoder.Deadline). Default 10ms.
	FlushInterval time.Duration
	// ParitySpread is the gap between consecutive parity packets of a
	// group flushed early (sparse traffic: chat): parity j goes out
	// j*ParitySpread after the flush instead of right behind parity 0, so
	// that a burst of consecutive losses on the link rarely takes a data
	// packet and all its parity. Full groups (dense traffic) send their
	// parity together; Interleave protects them. Default 0: together.
	ParitySpread time.Duration
	// GroupTimeout is how long the decoder waits, from the first packet of
	// a group, before it gives up on the group and reports its missing
	// data packets; a group with m parity packets gets (m-1)*ParitySpread
	// more, for its spread parity. Default 3*FlushInterval + 20ms of
	// reorder slack.
	GroupTimeout time.Duration
	// MaxGroups bounds the groups the decoder keeps open; when full, the
	// oldest is closed and its losses reported. Default 64 (or
	// 2*Interleave if larger); at most 65536.
	MaxGroups int
	// MaxDatagram limits a whole datagram, header included. Default
	// DefaultMaxDatagram (1200). Payloads may be up to MaxPayload bytes.
	MaxDatagram int
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.K == 0 {
		c.K = DefaultK
	}
	if c.MinM == 0 {
		c.MinM = DefaultMinM
	}
	if c.MaxM == 0 {
		c.MaxM = max(DefaultMaxM, c.MinM)
	}
	if c.M == 0 {
		c.M = min(max(DefaultM, c.MinM), c.MaxM)
	}
	if c.TargetLoss == 0 {
		c.TargetLoss = DefaultTargetLoss
	}
	if c.Interleave == 0 {
		c.Interleave = 1
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.GroupTimeout == 0 {
		c.GroupTimeout = 3*c.FlushInterval + DefaultReorderSlack
	}
	if c.MaxGroups == 0 {
		c.MaxGroups = max(DefaultMaxGroups, 2*c.Interleave)
	}
	if c.MaxDatagram == 0 {
		c.MaxDatagram = DefaultMaxDatagram
	}
	return c
}

// MaxPayload is the largest payload Encoder.Add accepts: MaxDatagram minus
// the header and the shard length prefix (a parity shard covering the
// payload must fit in one datagram).
func (c Config) MaxPayload() int {
	return maxPayload(c.withDefaults().MaxDatagram)
}

// Validate checks the fields, after defaults, against each other.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.K < 1:
		return fmt.Errorf("%w: K=%d", ErrBadConfig, c.K)
	case c.MinM < 1 || c.MaxM < c.MinM || c.M < c.MinM || c.M > c.MaxM:
		return fmt.Errorf("%w: need 1 <= MinM (%d) <= M (%d) <= MaxM (%d)", ErrBadConfig, c.MinM, c.M, c.MaxM)
	case c.K+c.MaxM > MaxShards:
		return fmt.Errorf("%w: K+MaxM=%d exceeds %d", ErrBadConfig, c.K+c.MaxM, MaxShards)
	case c.TargetLoss <= 0 || c.TargetLoss >= 1:
		return fmt.Errorf("%w: TargetLoss=%g", ErrBadConfig, c.TargetLoss)
	case c.Interleave < 1 || c.Interleave > 64:
		return fmt.Errorf("%w: Interleave=%d (1..64)", ErrBadConfig, c.Interleave)
	case c.FlushInterval < 0 || c.GroupTimeout <= 0 || c.ParitySpread < 0:
		return fmt.Errorf("%w: FlushInterval=%v GroupTimeout=%v ParitySpread=%v", ErrBadConfig, c.FlushInterval, c.GroupTimeout, c.ParitySpread)
	case c.MaxGroups < 2*c.Interleave || c.MaxGroups > 1<<16:
		return fmt.Errorf("%w: MaxGroups=%d (2*Interleave..65536)", ErrBadConfig, c.MaxGroups)
	case c.MaxDatagram < HeaderSize+FeedbackSize+ShardPrefix || c.MaxDatagram > HeaderSize+0xffff:
		return fmt.Errorf("%w: MaxDatagram=%d", ErrBadConfig, c.MaxDatagram)
	}
	return nil
}
