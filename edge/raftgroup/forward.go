package raftgroup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/edge/ordering"
	"github.com/edgegate/edgegate/transport/pb"
)

// retryWait is how long Append waits before asking again while a group
// has no leader (an election takes about an ElectionTimeout).
const retryWait = 20 * time.Millisecond

// Forward sends an encoded write to the node at leaderAddr (its Raft
// address) and returns the encoded answer; the edge implements it with
// raftmux.Mux.Call, and the leader answers with HandleForward.
type Forward func(ctx context.Context, leaderAddr string, group uint32, body []byte) ([]byte, error)

// Answers of a forwarded write: ok, then duplicate(1) and the message;
// errors travel as messages starting with one of these words.
const (
	fwdNotLeader  = "notleader"
	fwdOverloaded = "overloaded"
	fwdClosed     = "closed"
	fwdInvalid    = "invalid"
)

// appendRetrying is Append's loop: the local leader path, else the
// leader's node through Forward, waiting out elections, until ctx ends
// or ApplyTimeout passes.
func (n *Node) appendRetrying(ctx context.Context, g *group, r ordering.Request) (ordering.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, n.o.ApplyTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		res, err := g.append(ctx, r)
		var nl *NotLeaderError
		if !errors.As(err, &nl) {
			return res, err
		}
		if nl.Leader == "" && n.o.Forward != nil {
			nl = n.askReplica(g, attempt)
		}
		// Two hops at most: the node asked may name the leader.
		for hop := 0; hop < 2 && nl.Leader != "" && nl.Leader != n.o.NodeID; hop++ {
			if n.o.Forward == nil {
				return res, err // the caller routes to nl.Leader
			}
			res, err = n.forward(ctx, nl, r)
			if !errors.As(err, &nl) {
				return res, err
			}
		}
		t := time.NewTimer(retryWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ordering.Result{}, err
		case <-t.C:
		}
	}
}

// forward sends r to the group's leader.
func (n *Node) forward(ctx context.Context, nl *NotLeaderError, r ordering.Request) (ordering.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, n.o.ForwardTimeout)
	defer cancel()
	ans, err := n.o.Forward(ctx, nl.LeaderAddr, nl.Group, encodeBatch(nil, []ordering.Request{r}))
	if err != nil {
		return ordering.Result{}, decodeForwardErr(err, nl)
	}
	if len(ans) < 1 {
		return ordering.Result{}, errors.New("raftgroup: empty forward answer")
	}
	m := new(pb.Message)
	if err := proto.Unmarshal(ans[1:], m); err != nil {
		return ordering.Result{}, fmt.Errorf("raftgroup: forward answer: %w", err)
	}
	return ordering.Result{Msg: m, Duplicate: ans[0] == 1}, nil
}

// decodeForwardErr maps a forwarded write's error back to the orderer's.
func decodeForwardErr(err error, nl *NotLeaderError) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, fwdNotLeader):
		// The leader moved: retry with the leader the node names, if any
		// ("notleader id addr"), else ask the group again.
		f := strings.Fields(strings.TrimPrefix(msg, fwdNotLeader))
		if len(f) == 2 {
			return &NotLeaderError{Group: nl.Group, Leader: f[0], LeaderAddr: f[1]}
		}
		return &NotLeaderError{Group: nl.Group}
	case strings.HasPrefix(msg, fwdOverloaded):
		return ordering.ErrOverloaded
	case strings.HasPrefix(msg, fwdInvalid):
		return fmt.Errorf("%w: %s", ordering.ErrInvalidRequest, strings.TrimPrefix(msg, fwdInvalid+" "))
	default:
		// The leader's node is unreachable or closing: wait for Raft to
		// notice and elect another.
		return &NotLeaderError{Group: nl.Group}
	}
}

// HandleForward answers a write another node forwarded here (it must not
// be forwarded again: a node that is not the leader says so and the
// sender retries).
func (n *Node) HandleForward(group uint32, body []byte) ([]byte, error) {
	reqs, err := decodeBatch(body)
	if err != nil || len(reqs) != 1 || int(group) >= len(n.groups) || GroupOf(reqs[0].Conv, len(n.groups)) != group {
		return nil, errors.New(fwdInvalid + " malformed forwarded write")
	}
	r := reqs[0]
	if err := r.Validate(); err != nil {
		return nil, errors.New(fwdInvalid + " " + err.Error())
	}
	if err := n.checkOpen(context.Background()); err != nil {
		return nil, errors.New(fwdClosed)
	}
	r.Body = append([]byte(nil), r.Body...)
	ctx, cancel := context.WithTimeout(context.Background(), n.o.ApplyTimeout)
	defer cancel()
	res, err := n.groups[group].append(ctx, r)
	var nl *NotLeaderError
	switch {
	case errors.As(err, &nl) && nl.Leader != "" && nl.Leader != n.o.NodeID:
		return nil, errors.New(fwdNotLeader + " " + nl.Leader + " " + nl.LeaderAddr)
	case errors.As(err, &nl):
		return nil, errors.New(fwdNotLeader)
	case errors.Is(err, ordering.ErrOverloaded):
		return nil, errors.New(fwdOverloaded)
	case err != nil:
		return nil, err
	}
	b, err := proto.Marshal(res.Msg)
	if err != nil {
		return nil, err
	}
	dup := byte(0)
	if res.Duplicate {
		dup = 1
	}
	return append([]byte{dup}, b...), nil
}

// askReplica is, under membership placement, a node to forward a write
// to when this node knows no leader for g (it holds no replica of g, or
// has not heard from one yet): one of g's desired replicas in the current
// view, another each attempt. The node asked answers the write if it
// leads g, or names the leader. Nil-safe: an empty NotLeaderError
// otherwise.
func (n *Node) askReplica(g *group, attempt int) *NotLeaderError {
	nl := &NotLeaderError{Group: g.id}
	if n.place == nil {
		return nl
	}
	cands := n.place.current()
	var others []string
	for _, id := range cands.place(g.id, n.place.p.Replicas) {
		if id != n.o.NodeID && cands.alive[id] {
			others = append(others, id)
		}
	}
	if len(others) > 0 {
		id := others[attempt%len(others)]
		nl.Leader, nl.LeaderAddr = id, cands.addrs[id]
	}
	return nl
}
