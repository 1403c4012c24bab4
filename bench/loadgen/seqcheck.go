package loadgen

import "math/bits"

// StreamCheck accounts the messages of one sender stream as seen by one
// receiver: it counts each sequence number's first arrival (delivered),
// repeats (duplicates) and arrivals below the highest seq already seen
// (reordered). Lost is computed against the number of messages the sender
// got acknowledged. Memory: one bit per sequence number up to the highest
// seen. Not safe for concurrent use; each receiver owns its own.
type StreamCheck struct {
	seen       []uint64 // bitmap, bit s-1 for seq s
	maxSeq     uint64
	delivered  uint64
	duplicates uint64
	reordered  uint64
	invalid    uint64
}

// maxTrackedSeq bounds the bitmap (16 MiB of bits); larger seqs count as
// invalid rather than allocating without bound.
const maxTrackedSeq = 1 << 27

// Observe records the arrival of seq (>= 1). It reports whether this was
// the seq's first arrival.
func (s *StreamCheck) Observe(seq uint64) bool {
	if seq == 0 || seq > maxTrackedSeq {
		s.invalid++
		return false
	}
	i, bit := (seq-1)/64, uint64(1)<<((seq-1)%64)
	if int(i) >= len(s.seen) {
		n := max(int(i)+1, 2*len(s.seen))
		s.seen = append(s.seen, make([]uint64, n-len(s.seen))...)
	}
	if s.seen[i]&bit != 0 {
		s.duplicates++
		return false
	}
	s.seen[i] |= bit
	s.delivered++
	if seq < s.maxSeq {
		s.reordered++
	} else {
		s.maxSeq = seq
	}
	return true
}

// Has reports whether seq was received.
func (s *StreamCheck) Has(seq uint64) bool {
	if seq == 0 || seq > maxTrackedSeq {
		return false
	}
	i := (seq - 1) / 64
	return int(i) < len(s.seen) && s.seen[i]&(uint64(1)<<((seq-1)%64)) != 0
}

// Delivered counts distinct sequence numbers received.
func (s *StreamCheck) Delivered() uint64 { return s.delivered }

// Duplicates counts repeated arrivals.
func (s *StreamCheck) Duplicates() uint64 { return s.duplicates }

// Reordered counts arrivals below an already-seen higher seq.
func (s *StreamCheck) Reordered() uint64 { return s.reordered }

// Invalid counts arrivals with seq 0 or beyond the tracked range.
func (s *StreamCheck) Invalid() uint64 { return s.invalid }

// MaxSeq is the highest seq received.
func (s *StreamCheck) MaxSeq() uint64 { return s.maxSeq }

// Lost counts the seqs in [1, sent] never received.
func (s *StreamCheck) Lost(sent uint64) uint64 {
	if sent == 0 {
		return 0
	}
	sent = min(sent, maxTrackedSeq)
	var got uint64
	full := sent / 64
	for i := uint64(0); i < full && i < uint64(len(s.seen)); i++ {
		got += uint64(bits.OnesCount64(s.seen[i]))
	}
	if rem := sent % 64; rem > 0 && full < uint64(len(s.seen)) {
		got += uint64(bits.OnesCount64(s.seen[full] & (uint64(1)<<rem - 1)))
	}
	return sent - got
}
