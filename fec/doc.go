// Package fec is the forward error correction codec for unreliable
// datagrams: it turns a stream of payloads into data and Reed-Solomon
// parity packets, rebuilds lost payloads on the receiving side, and tells
// the caller which payloads it could not rebuild.
//
// # What it owns
//
//   - The packet format (packet.go): an 11-byte header (version, kind,
//     group id, index, k, m, body length) on every datagram, with
//     MarshalPacket/ParsePacket, strict length checks, a datagram limit
//     (DefaultMaxDatagram, 1200 bytes, header included, which fits a QUIC
//     DATAGRAM frame) and sentinel errors that all match ErrMalformed.
//   - The Encoder (groups, flush timer, interleaving, adaptive parity) and
//     the Decoder (reassembly, recovery, deduplication, expiry, loss
//     accounting and feedback).
//
// # What it must not touch
//
// It knows nothing of sockets, QUIC, sessions, users or what payloads
// mean. It never starts goroutines, never reads the clock and never
// sleeps: every call takes the current time, and the caller runs the
// timers (Encoder.Deadline, Decoder.Expire, Decoder.Feedback). The caller
// carries packets (later in QUIC datagrams, RFC 9221), carries feedback
// back to the sender, and retransmits the ids Expire reports over its
// reliable stream. Neither type is safe for concurrent use.
//
// # Design decisions
//
//   - Erasure code: github.com/klauspost/reedsolomon; no Galois field code
//     here. A group has k data shards and m parity shards, k+m <= 255.
//   - Data is never held back: Encoder.Add returns the data packet at once.
//     A data shard is [2-byte length][payload][zero padding] padded to the
//     group's largest payload, so parity covers variable-sized payloads and
//     a rebuilt shard gives back the exact payload; on the wire a data
//     packet carries only its payload.
//   - Flush timer: a group still open FlushInterval (10ms) after its first
//     payload gets parity over the n < k payloads it has, so parity never
//     waits for traffic. Data packets carry the planned k; parity packets
//     carry the actual k, which is what the decoder trusts. Flush closes
//     all open groups at once so interleaved groups stay aligned.
//   - Interleaving: with Interleave D, D groups are open and consecutive
//     payloads go to them round-robin; the parity of the D groups filled in
//     one round goes out together, parity 0 of every group, then parity 1,
//     and so on. A burst of up to D consecutive losses thus costs each
//     group at most one packet, at the price of D times the group latency
//     (still bounded by FlushInterval).
//   - Parity spreading (ParitySpread): interleaving needs traffic to
//     interleave, and chat has none: most groups hold one message,
//     flushed alone, and its parity right behind it is lost in the same
//     burst. So parity j of a group flushed early goes out j*ParitySpread
//     after the flush (parity 0 at once), and the decoder waits (m-1)
//     spreads longer for such a group. TestParitySpreadAgainstBursts
//     measures it on a Gilbert-Elliott link (5% loss, bursts of 3, one
//     packet of cross traffic per ms, one message per 50 ms): 0.52% of
//     messages unrecoverable with parity together, 0.03% spread 10 ms
//     apart. The price is a later rebuild when the first parity is lost
//     too, still far sooner than a retransmission.
//   - Adaptive parity: SetLossRate (or OnFeedback) picks, for new groups,
//     the least m in [MinM, MaxM] for which the probability of losing more
//     than m of the k+m packets, with independent loss (binomial), is under
//     TargetLoss (0.1%). With k=8: m=1 up to 0.1% loss, 2 at 1%, 4 at 5%,
//     5 at 10%, capped at MaxM (6). Once a loss rate is set, a group
//     flushed early gets the parity its actual size needs at that rate
//     (one packet at 5%: 2 parity packets), never more than planned:
//     sparse traffic is mostly such groups. m never drops to 0: parity packets are
//     also what tells the receiver the real size of a group flushed early,
//     and one parity packet per 8 costs about 12% (1.14x on the wire with
//     headers for 1000-byte payloads). Against bursty loss the binomial
//     model is optimistic; interleaving is the answer, and tests show k=8,
//     m=4, D=8 keeps residual loss at 0 over 20k packets at 5% loss in
//     bursts of 3 on average (m=2, D=4 leaves about 1%).
//   - ARQ fallback: the decoder closes a group GroupTimeout (3x the flush
//     interval plus 20ms of reorder slack) after its first packet and
//     Expire returns the ids of data packets neither received nor rebuilt.
//     A group none of whose packets arrived is reported whole when a later
//     group closes. Memory is bounded by MaxGroups open groups (the oldest
//     is closed early and its losses reported by the next Expire) and a
//     window of recently closed group ids, so late packets are never
//     delivered twice.
//   - Loss accounting: recovered packets still count as lost. Stats and
//     Feedback count, over closed groups, the packets expected (k+m) and
//     received, data and parity alike, so the sender sees the link's real
//     loss (for parity and congestion control) even when FEC hid it.
//     Feedback also carries the mean run of consecutive losses within a
//     group, a lower bound of the burst length when interleaving.
package fec
