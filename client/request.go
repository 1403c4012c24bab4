package client

import (
	"context"
	"errors"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport/pb"
)

// reqKey identifies a pending request: by client message id for sends, by
// request id for everything else.
type reqKey struct {
	id   uint64
	cmid string
}

// request is one request waiting for its response. It survives reconnects:
// requests not answered on one connection are sent again on the next
// (sends keep their client message id, so the server deduplicates them).
type request struct {
	key    reqKey
	msg    proto.Message
	order  uint64      // registration order, for resends
	sentOn *connection // connection it was last handed to
	// internal requests (resubscriptions) are dropped, not resent, on
	// reconnect, and answered through callback on the reader goroutine.
	callback func(proto.Message, error)
	done     chan response
}

type response struct {
	msg proto.Message
	err error
}

func (r *request) complete(m proto.Message, err error) {
	if r.callback != nil {
		r.callback(m, err)
		return
	}
	r.done <- response{m, err} // buffered, sent at most once
}

// resolve completes the pending request key with a response.
func (c *Client) resolve(key reqKey, m proto.Message, err error) {
	c.mu.Lock()
	r := c.pending[key]
	delete(c.pending, key)
	c.mu.Unlock()
	if r == nil {
		c.log.Debug("client: response to no pending request", "request", key.id, "client_msg_id", key.cmid)
		return
	}
	r.complete(m, err)
}

// takeResendsLocked returns the requests not yet handed to cn, oldest first,
// and drops internal requests of earlier connections. Caller holds c.mu.
func (c *Client) takeResendsLocked(cn *connection) []*request {
	var out []*request
	for k, r := range c.pending {
		if r.callback != nil {
			delete(c.pending, k)
			continue
		}
		if r.sentOn != cn {
			r.sentOn = cn
			out = append(out, r)
			if _, ok := r.msg.(*pb.Send); ok {
				c.stats.resent.Add(1)
			}
		}
	}
	slices.SortFunc(out, func(a, b *request) int { return cmpUint(a.order, b.order) })
	return out
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// do sends one request and waits for its response. While the client is
// disconnected the request waits and is sent after the reconnect.
func (c *Client) do(ctx context.Context, key reqKey, m proto.Message) (proto.Message, error) {
	r := &request{key: key, msg: m, done: make(chan response, 1)}
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return nil, c.closedErr()
	}
	if _, dup := c.pending[key]; dup {
		c.mu.Unlock()
		return nil, ErrInFlight
	}
	c.order++
	r.order = c.order
	cn := c.cur
	r.sentOn = cn
	c.pending[key] = r
	c.mu.Unlock()

	if cn != nil && !cn.enqueue(ctx, m) && ctx.Err() != nil {
		c.drop(r)
		return nil, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.msg, res.err
	case <-ctx.Done():
		c.drop(r)
		return nil, ctx.Err()
	case <-c.runDone:
		return nil, c.closedErr()
	}
}

// drop forgets r if it is still pending.
func (c *Client) drop(r *request) {
	c.mu.Lock()
	if c.pending[r.key] == r {
		delete(c.pending, r.key)
	}
	c.mu.Unlock()
}

// roundTrip runs a request built by build, retrying while the server says
// it is rate limited or overloaded, until ctx is done. build is called for
// every try so requests get fresh request ids.
func (c *Client) roundTrip(ctx context.Context, build func() (reqKey, proto.Message)) (proto.Message, error) {
	for attempt := 0; ; attempt++ {
		key, m := build()
		resp, err := c.do(ctx, key, m)
		var se *Error
		if err == nil || !errors.As(err, &se) || !se.retryable() {
			return resp, err
		}
		wait := se.RetryAfter
		if wait <= 0 {
			wait = c.bo.delay(attempt)
		}
		c.log.Debug("client: request throttled", "code", se.Code, "wait", wait)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// resubscribeLocked registers internal Subscribe requests for what the app
// subscribed to and cn's server did not restore. Caller holds c.mu.
func (c *Client) resubscribeLocked(cn *connection) []*request {
	restored := make(map[string]bool)
	for _, p := range cn.hello.GetSubscribed() {
		restored[p.GetConversation()] = true
	}
	for _, room := range cn.hello.GetRooms() {
		restored["\x00"+room] = true
	}
	sub := &pb.Subscribe{}
	for conv := range c.subs {
		if !restored[conv] {
			sub.Conversations = append(sub.Conversations, &pb.Position{Conversation: conv, Seq: c.recv.position(conv)})
		}
	}
	for room := range c.rooms {
		if !restored["\x00"+room] {
			sub.Rooms = append(sub.Rooms, room)
		}
	}
	if len(sub.Conversations) == 0 && len(sub.Rooms) == 0 {
		return nil
	}
	sub.RequestId = c.reqID.Add(1)
	c.order++
	r := &request{key: reqKey{id: sub.RequestId}, msg: sub, order: c.order, sentOn: cn}
	r.callback = func(_ proto.Message, err error) {
		if err == nil {
			return
		}
		c.log.Warn("client: resubscribe failed", "err", err, "conversations", len(sub.Conversations), "rooms", sub.Rooms)
		if code, ok := ErrorCode(err); ok && code != pb.ErrorCode_ERROR_CODE_RATE_LIMITED {
			// The server refuses them now (permissions changed): forget them.
			c.mu.Lock()
			for _, p := range sub.Conversations {
				delete(c.subs, p.GetConversation())
			}
			for _, room := range sub.Rooms {
				delete(c.rooms, room)
			}
			c.mu.Unlock()
		}
	}
	c.pending[r.key] = r
	return []*request{r}
}
