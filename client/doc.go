// Package client is the Go SDK for edgegate: it connects to an edge over a
// transport.Conn (WebSocket by default), authenticates with a JWT, sends
// messages with acknowledgement, receives them in order, and survives
// connection loss without losing or duplicating anything at the
// application level.
//
// It owns: the client side of docs/PROTOCOL.md — the Connect handshake,
// reconnect with exponential backoff and full jitter, session resume
// (resume token + per-conversation positions), idempotent resends keyed by
// client message id, per-conversation ordering and de-duplication, gap
// repair through SyncRequest, cumulative DeliveryAcks, heartbeats and RTT.
//
// It must not touch: server internals (edge/, store, ordering) or the frame
// codec; it uses transport/ for frames and connections and nothing else
// from this module. The transport is pluggable through Config.Dial so QUIC
// can be added without changing this API.
//
// # Goroutines and lock order
//
// A Client runs one manager goroutine (connect, serve, back off, repeat)
// and, per live connection, exactly one reader and one writer goroutine.
// Pings, cumulative acks and the dead-peer watchdog run on the writer's
// timers. Close cancels everything and waits for all of them.
//
// Locks: Client.mu (subscriptions, pending requests, current connection)
// may be held while taking recvState.mu, never the other way round. No lock
// is held while blocking on a channel or the network.
//
// # Back-pressure
//
// Messages() is a bounded channel (Config.MessageBuffer). When the
// application stops reading, the reader goroutine blocks on it instead of
// dropping ordered messages, stops reading the socket, and the server sees
// TCP back-pressure. While blocked this way the heartbeat watchdog does not
// count the silence against the server, but responses (acks of Send,
// Subscribed, ...) are not read either: an application must keep draining
// Messages() while it waits for them.
package client
