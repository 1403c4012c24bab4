// Package edge is an edgegate edge node: it authenticates client sessions,
// routes ordered chat and live room comments, keeps sessions resumable, and
// serves the backend HTTP API, metrics and health endpoints.
//
// It owns: sessions (session*.go, outbox.go), the conversation router
// (router.go), live rooms (rooms.go), resumption (resume.go), delivery
// positions (positions.go), the HTTP surface (http.go, api.go), cluster
// membership, health score and edge selection (cluster.go, health*.go,
// route.go, api_route.go) and the Orderer seam (server.go). Sub-packages: store (pebble), ordering (the
// single-node group-commit orderer), auth (JWT, resume tokens, API keys),
// limits (rate limits and caps).
//
// It must not touch: frame bytes (transport/ encodes and decodes them),
// socket details, or storage layout (edge/store owns its keys).
//
// Design decisions:
//
//   - Ordered delivery never loses a message for a slow client: the
//     per-conversation queue holds only notifications of committed
//     messages; on overflow the session reads the gap back from the store.
//     A session therefore delivers seq sent+1, sent+2, ... with no gap and
//     no duplicate, whatever the queue did.
//   - Live rooms trade completeness for latency: comments are batched per
//     room over RoomBatchWindow, each batch is encoded once per codec and
//     shared by all viewers (a prepared WebSocket message), and a viewer
//     that falls ViewerQueue batches behind loses the oldest batches
//     (counted, and reported to it in Deliver.dropped).
//   - Room batching adapts to load (rooms_batch.go): a room's next batch
//     waits until RoomFanoutQuorum of the previous batch's viewers have
//     written it (at most RoomBatchMaxDelay), so under load batches grow
//     instead of frames per second outgrowing the CPU, and slow viewers
//     never hold the room.
//   - The write side of a session has no goroutine while idle; one is
//     started when there is something to send. Replies to the session's
//     own requests (acks, pongs) are written inline by the read loop when
//     nothing else is queued, so they never wait in the scheduler behind a
//     room fan-out. The read side runs on a fresh goroutine after the
//     upgrade so net/http frees the request.
//   - Resume: the resume token (HMAC-signed session id, user, device,
//     expiry) brings back the session's subscriptions kept for
//     ResumeGrace; the client's own positions decide where delivery
//     restarts, so a reconnecting client gets exactly what it missed.
//   - Health and edge selection (health.go, route.go): each node scores
//     itself 0-100 from one interval's sample (connections vs capacity,
//     process CPU, scheduler lag, delivery backlog, server errors, loss on
//     client links) with a pure function, so the formula is tested
//     without timing; the most saturated hard limit decides alone, and
//     symptoms that clients may cause take off 30% each at most. The score
//     and the client addresses (Config.PublicURL, PublicQUICAddr) travel
//     in gossip metadata; GET /v1/route and the drain redirect rank the
//     same way (region, health, load, node id) and skip draining,
//     leaving, dead and unhealthy (< 20) nodes. /v1/route is public and
//     rate-limited per IP: clients call it before they hold anything but
//     a user token.
//   - Presence homes (presence_local.go, presence_home.go,
//     presence_link.go, api_presence.go): each user's presence lives on one
//     home node, gossip.Rendezvous over the home candidates (minimal
//     movement on membership change, no ring state); edges send versioned,
//     coalesced per-node device counts to the home over the link and
//     re-home on membership changes; gossip stays per-node. A session kept
//     for resume is offline. Lookups ask the home; this node's own count is
//     always taken locally. A client's presence query about a conversation
//     asks every peer (presence_conv.go); the Presence pushes of a
//     conversation follow each user's cluster-wide state, by
//     per-conversation interest between nodes (conv_link.go).
//   - Sender FIFO: a session's sends are appended one after another (the
//     read loop waits for each ack), so one sender's messages keep their
//     order in a conversation; throughput comes from group commit across
//     sessions.
//
// Lock order: Server.mu, then convRouter.mu or roomHub.mu then room.mu, then
// session.mu last. Presence: Server.mu, then presenceLocal.mu, then
// presence.mu; homeTable.mu is a leaf; convLink.mu is a leaf taken under
// convRouter.mu. Nothing calls into the router or the rooms while holding
// a session.mu (the fan-out holds the router lock while taking session
// locks), and nothing blocks on I/O while holding session.mu.
package edge
