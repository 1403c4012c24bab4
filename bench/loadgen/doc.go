// Package loadgen runs edgegate load scenarios with real client SDK
// connections against running edges and reports one Result per run:
//
//   - RunIdle: N connected, subscribed, idle clients; the edges' RSS
//     before and after gives bytes per connection.
//   - RunRooms: one publisher sends comments to one room watched by N
//     viewers; delivery latency, loss, duplicates and reordering per
//     viewer.
//   - RunChat: N 1:1 conversations, both sides sending with acks; ack and
//     delivery latency, loss, duplicates and ordering per conversation.
//
// Message bodies carry (stream, seq, send time) (body.go) so receivers
// account every message with a StreamCheck bitmap and record latencies
// into one shared lock-free histogram (bench/hist): per-message work is a
// decode, an atomic add and a bit set, so 10k viewers fit in one process
// next to the edge.
//
// Every scenario is split into parts (part.go): in-process, or with
// procs > 1 one per child process (child.go), which the caller starts
// through a Spawner (cmd/edgebench re-executes itself) and which speak
// JSON lines on stdin/stdout. Server figures come from the edges' /metrics
// (bench/metrics). All loops are bounded by Options.Duration, Drain and
// ConnectTimeout.
//
// Goroutines: per client, the SDK's own plus one receiver (rooms, chat)
// and one sender (chat); every one is waited for before a Run returns.
//
// It must not touch: server internals (edge/ except edge/auth for minting
// tokens), the client SDK's internals, or the frame codec (it uses
// transport only to implement a Conn bound to a source address, see
// wsconn.go, and to pin an edge's QUIC dev certificate).
package loadgen
