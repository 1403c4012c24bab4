package raftgroup

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestTransferLeadershipEmptiesTheNode: a node about to drain hands every
// group it leads to a peer; afterwards it leads none, every group has a
// leader elsewhere, and writes entered at the drained node go on
// (forwarded to the new leaders).
func TestTransferLeadershipEmptiesTheNode(t *testing.T) {
	const groups = 8
	nodes := startMuxCluster(t, 3, groups)
	before := waitAllLeaders(t, nodes, groups, 10*time.Second, "start")
	src, led := busiestLeader(before, len(nodes))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	moved, failed := nodes[src].node.TransferLeadership(ctx)
	if moved != led || failed != 0 {
		t.Fatalf("moved %d, failed %d; node led %d groups", moved, failed, led)
	}
	after := waitAllLeaders(t, nodes, groups, 10*time.Second, "after the transfer")
	for g, id := range after {
		if id == nodeID(src) {
			t.Errorf("group %d still led by the drained node %s", g, id)
		}
	}
	for i := range 16 {
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := nodes[src].node.Append(wctx, req(fmt.Sprintf("conv-%d", i), "u", i))
		wcancel()
		if err != nil {
			t.Fatalf("write %d through the drained node: %v", i, err)
		}
	}
	// Nothing left to hand over.
	if moved, failed := nodes[src].node.TransferLeadership(ctx); moved != 0 || failed != 0 {
		t.Fatalf("second transfer: moved %d, failed %d", moved, failed)
	}
}
