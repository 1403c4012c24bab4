package edge

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/transport/pb"
)

// Conversation presence across the cluster. A client's presence query
// about a conversation lists the users subscribed to it: each node knows
// only its own subscribers (convRouter), so the node asked queries every
// peer with a link up (ConvPresenceQuery, in parallel, bounded by
// convPresenceTimeout) and adds up the devices per user. The answer is
// the same kind the single node gives (users subscribed to the
// conversation, which the client's token already lets it see), never
// "is user U online anywhere", which would let any client probe any user.
// The query runs on the asking session's read loop: a session has at most
// one in flight (it cannot flood its peers with them), and other sessions
// are not held up. A peer that does not answer in time is left out (the answer is then
// partial, counted in edgegate_conv_presence_queries_total{result}); a
// query without peers is answered locally at once.
//
// Change notifications (Presence frames pushed when a user's first device
// in the cluster joins or its last leaves) cross the nodes too, by
// per-conversation interest between nodes: conv_link.go.

// convPresenceTimeout bounds one query's round to the peers.
const convPresenceTimeout = time.Second

// convPresence answers conversation presence queries across the cluster.
type convPresence struct {
	srv     *Server
	queries *prometheus.CounterVec // result: local, complete, partial
}

func newConvPresence(srv *Server) *convPresence {
	cp := &convPresence{srv: srv, queries: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgegate_conv_presence_queries_total",
		Help: "Client presence queries about a conversation by result: answered from this node alone (no peers), from every peer (complete), or without some peer that did not answer in time (partial)."},
		[]string{"result"})}
	srv.m.reg.MustRegister(cp.queries)
	return cp
}

var errBadConvQuery = errors.New("conversation presence: not a valid conversation id")

// onQuery answers a peer's ConvPresenceQuery from this node's subscribers.
func (cp *convPresence) onQuery(_ string, m proto.Message) (proto.Message, error) {
	conv := m.(*pb.ConvPresenceQuery).GetConversation()
	if !auth.ValidID(conv) {
		return nil, errBadConvQuery
	}
	return &pb.ConvPresenceReply{Users: cp.srv.router.presence(conv)}, nil
}

// query returns the users subscribed to conv on every node that answered,
// with their devices summed over the nodes, and whether every peer did.
func (cp *convPresence) query(ctx context.Context, conv string) ([]*pb.PresenceUser, bool) {
	local := cp.srv.router.presence(conv)
	rl := cp.srv.link
	var peers []string
	if rl != nil {
		peers = rl.link.Peers()
	}
	if len(peers) == 0 {
		cp.queries.WithLabelValues("local").Inc()
		return local, true
	}
	ctx, cancel := context.WithTimeout(ctx, convPresenceTimeout)
	defer cancel()
	counts := map[string]uint32{}
	add := func(users []*pb.PresenceUser) {
		for _, u := range users {
			counts[u.GetUserId()] += u.GetDevices()
		}
	}
	add(local)
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		missing int
	)
	for _, peer := range peers {
		wg.Go(func() {
			r, err := rl.link.Request(ctx, peer, &pb.ConvPresenceQuery{Conversation: conv})
			reply, ok := r.(*pb.ConvPresenceReply)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || !ok {
				missing++
				cp.srv.log.Debug("conversation presence: a peer did not answer", "peer", peer, "err", err)
				return
			}
			add(reply.GetUsers())
		})
	}
	wg.Wait()
	result := "complete"
	if missing > 0 {
		result = "partial"
	}
	cp.queries.WithLabelValues(result).Inc()
	return presenceList(counts), missing == 0
}
