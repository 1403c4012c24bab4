// Package ordering is the ordering seam of the edge: it turns a client's
// send of an `ordered`-class message into a durably stored message with a
// gap-free per-conversation sequence number, idempotently on
// (conversation, sender, client_msg_id).
//
// It owns the Orderer interface with its Request/Result types (the edge
// package calls them) and Local, the single-node implementation on top of
// edge/store. A replicated implementation (Raft groups) will implement the
// same interface and call the same OnCommit hook from every replica's FSM.
// It must not touch sessions, transports, fan-out or permissions: callers
// validate ids and bodies, and fan-out happens in the OnCommit hook.
//
// # Group commit
//
// Local runs one appender goroutine. Append enqueues a request on a bounded
// queue (LocalOptions.QueueSize; a full queue fails fast with
// ErrOverloaded). The appender takes what is queued (up to MaxBatch,
// optionally waiting up to Window for more), assigns seqs from an in-memory
// head cache, deduplicates against the store and against the batch it is
// building, and commits the whole batch with one fsynced
// store.CommitMessages. It then calls OnCommit with the new messages and
// answers every caller. So fsyncs per second do not grow with the number of
// concurrent senders or conversations. A failed commit fails every request
// of the batch and drops the batch's conversations from the head cache, so
// their heads are reloaded from the store.
//
// # Cancellation
//
// Append returns ctx.Err() when ctx ends before the answer, but a request
// already queued may still be committed: the caller then does not learn its
// seq. This is safe because a resend with the same client_msg_id is
// answered with the stored message (Result.Duplicate). Requests whose ctx
// has ended by the time the appender reaches them are dropped.
package ordering
