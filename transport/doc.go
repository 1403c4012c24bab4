// Package transport turns a client link into one message-oriented Conn that
// carries edgegate frames: an 8-byte header (version, type, flags, length),
// optional TLV extensions and a Protobuf payload (schema in
// pb/edgegate.proto, described in docs/PROTOCOL.md).
//
// It owns: the frame codec, payload compression (S2 or zstd, negotiated at
// connect), the Conn interface and its three implementations, close codes:
//
//   - "ws": WebSocket (gorilla/websocket), the default; passes every proxy.
//   - "quic-stream": frames on one reliable QUIC stream (quic-go), ALPN
//     edgegate/1.
//   - "quic-fec": frames in datagrams protected by the fec package
//     (quicfec*.go): by default beside the QUIC connection on its UDP
//     socket, ALPN edgegate-fec/2 ("direct datagrams", see below); or
//     inside it as QUIC DATAGRAM frames (RFC 9221), ALPN edgegate-fec/1
//     (QUICConfig.FECViaQUIC). One listener serves every QUIC mode (and
//     tells them apart by ALPN).
//
// # quic-fec design
//
// Every frame gets a connection sequence number and goes out at once as a
// datagram (seq + frame as the FEC payload). Parity follows when the group
// fills or its flush timer fires. The receiver rebuilds what it can, puts
// frames back in sequence order and drops repeats, so ReadFrame keeps the
// Conn contract of the other modes: every frame once, in order. We keep
// order here rather than in the session layer because everything above
// (handshake, acks after sends, per-conversation sequences) assumes an
// ordered frame stream, and a frame lost beyond FEC's reach is rare.
//
// Decisions, each from a measurement with edgebench lossy (see
// bench/README.md):
//
//   - FEC datagrams travel beside QUIC, not inside it (directPath in
//     quicfec_direct.go). Inside QUIC they count against its loss-based
//     congestion window, which random loss keeps shrinking although FEC
//     repairs that loss: at 10% loss and 200 ms RTT the window held about
//     two packets, datagrams queued behind it, and p99 was 635 ms against
//     a 300 ms target (255 ms beside QUIC, same link). quic-go's
//     congestion controller cannot be replaced. Direct packets share the
//     QUIC connection's UDP socket (same NAT binding and firewall state;
//     quic-go hands packets whose two high bits are 0 to
//     ReadNonQUICPacket), are sealed with AES-128-GCM under keys the TLS
//     exporter derives from the QUIC handshake (no extra round trip; a
//     packet that opens comes from the handshake's peer), carry a 64-bit
//     connection id for the listener's demultiplexer and a 32-bit packet
//     number (nonce, 64-packet replay window, loss measure). Direct
//     packets go to the QUIC connection's remote address, which QUIC
//     validates, never to the source of a direct packet (an on-path
//     attacker could race a captured one from elsewhere). What replaces
//     congestion control, deliberately: the frame window (4096 frames
//     unread), the 1 ms pacer and a rate cap per connection
//     (QUICConfig.FECMaxRate, 2 MiB/s): quic-fec is for chat and
//     danmaku, not bulk transfer; the control stream stays inside QUIC.
//     Middleboxes that route UDP by QUIC connection id would drop direct
//     packets: ?datagrams=quic (client URL) keeps them inside.
//   - Loss is measured by packet numbers: each ack carries the direct
//     packets received and the highest number seen (ctlLoss), and the
//     sender adapts parity to the difference, smoothed. Inside QUIC it is
//     QUIC's own counters (packets lost / sent), sampled every 250 ms.
//     Never from fec decoder feedback: chat is sparse, so most groups
//     hold one data packet, and the decoder cannot tell the size of a
//     group whose parity was all lost; its estimate ran far too high. The
//     estimate is packet counts that fade with the packets that follow,
//     a short and a long window, the larger wins (quicfec_loss.go): a loss
//     raises parity within one report, and a clean path reaches bare
//     datagrams after about 90 packets without loss (the earlier per-sample
//     average took a minute of chat, so quic-fec on a clean link sent
//     every frame two or three times). A connection starts at a 5% prior
//     worth 4 packets (QUICConfig.FECInitialLoss): clients come here
//     because their link is lossy.
//   - Parity fits the group: fec sizes a group flushed early for its
//     actual k (one packet at 5% loss gets 2 copies, not the 4 a group of
//     8 needs). Below 0.2% loss frames go as bare datagrams with no FEC;
//     a rare loss is then NACKed by seq.
//   - Every datagram is paced 1 ms apart, data before parity: quic-go
//     packs datagrams queued together into one QUIC packet, and the loss
//     of that packet was a burst (several data packets of one group)
//     that parity sized for independent loss could not absorb.
//   - The flush interval is an eighth of the RTT (5 to 60 ms; parity
//     goes out when its group is due) and the decoder's group timeout
//     follows it (at least 80 ms): on a long path a lost packet may wait
//     a little longer for parity, and fuller groups save packets.
//   - The parity of a group flushed early is spread one flush interval
//     apart (fec Config.ParitySpread; the configured spread, 5 ms, is the
//     floor): a sparse chat message and its two parity packets sent back
//     to back died in the same burst of loss (0.62% of messages resent at
//     5% loss in bursts of 3, RTT 50). Spread, 0.04% of data packets are
//     NACKed there (the committed matrix; 0.016-0.032% in two trials); a 10
//     ms floor was tried too, with a similar residual but p99 at 10%
//     random loss 74-76 ms instead of 71-72 in the same trial (a
//     message whose data and first parity are both lost waits one spread
//     longer, and at 10% loss that is about 1% of crossings).
//   - Frames too large for a datagram go on the control stream; the
//     edge sizes its Deliver batches to fit (FrameSizer).
//   - A direct client sends its frames on the control stream until the
//     server's first control record (the server answers the client's
//     opening empty ack with its own): its first datagram used to reach
//     the server before Accept registered the path, was dropped, and
//     counted as loss, which kept the new connection's parity up for
//     hundreds of packets (FEC-protected frames in a clean 30 s chat run
//     fell from 1200-2000 to about 1070).
//   - One timer loop per connection runs the flush timer, the decoder's
//     expiry, NACKs, acks and timeout retransmission, and sleeps until
//     the earliest of their deadlines or a kick (a datagram or control
//     record arrived, a frame was written, or a read owes an ack); with
//     nothing pending it sleeps until a kick. It used to poll every 5 ms
//     while anything was unacknowledged: 200 wake-ups a second per
//     chatting connection, 22 per frame against 6 now, and a third more
//     edge CPU on a clean chat run.
//
// Acknowledgements (received, read by the application = flow control
// window, highest seen, and the direct path's loss report) ride in the
// next datagram going the other way when the peer speaks ALPN
// edgegate-fec/3 (clients offer it first, the listener also serves /2
// and /1); the control stream carries one only when no datagram did for
// 100 ms, and repeats positions acknowledged only in datagrams (which
// may be lost) once the connection is quiet, at most every 500 ms. With
// every ack on the stream, each was a QUIC packet plus QUIC's ACK of it:
// about 280 bytes per chat message, the most of what quic-fec spent
// above WebSocket on a clean link. Moving them into datagrams took a
// clean 30 s chat run from 1.67 to 1.59 (wire bytes / body bytes), 10%
// loss from 5.0 to 4.8 at RTT 50, and a third of the edge's CPU; fewer
// frames are resent on the stream after a timeout because acks arrive
// sooner.
//
// The control stream (reliable) carries: those acks, NACKs of
// the FEC packets the decoder gave up on and of frames missing by seq,
// which the sender answers by sending those frames on the stream, and
// timeout retransmission of a lost tail (frames after the highest the
// receiver saw). Close waits until the peer acknowledged every frame (a
// Redirect written just before Close arrives), then FIN, then
// CONNECTION_CLOSE with the code, like quic-stream.
//
// It must not touch: users, sessions, conversations, rooms or storage. It
// knows frames, not what they mean; edge/ composes it.
package transport
