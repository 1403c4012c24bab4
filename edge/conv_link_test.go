package edge

import (
	"fmt"
	"testing"

	"github.com/edgegate/edgegate/transport/pb"
)

// TestConvRemoteApply: the receiver's side of conversation presence
// pushes, without a link. Pushes follow the cluster-wide total; snapshots
// apply silently; a conversation's remote users are capped; conversations
// without local subscribers are ignored; a dropped node pushes its users
// offline.
func TestConvRemoteApply(t *testing.T) {
	r := newConvRouter()
	const conv = "grp:unit"
	// A closed session takes no frames; pushLocked still counts it.
	r.add(conv, &session{user: "alice", closed: true}, &convSub{})
	change := func(node, user string, devices uint32, snapshot bool) remoteResult {
		return r.applyRemote(node, &pb.ConvUsers{Conversation: conv, Snapshot: snapshot, Users: []*pb.PresenceUser{{UserId: user, Devices: devices}}})
	}
	steps := []struct {
		node, user string
		devices    uint32
		snapshot   bool
		pushed     int
	}{
		{"n1", "bob", 1, false, 1}, // online
		{"n2", "bob", 1, false, 0}, // second node: no change cluster-wide
		{"n1", "bob", 0, false, 0}, // still on n2
		{"n2", "bob", 2, false, 0},
		{"n2", "bob", 0, false, 1},   // offline
		{"n1", "carol", 1, true, 0},  // snapshots are silent
		{"n1", "alice", 1, false, 0}, // alice's own devices are not told
	}
	for i, s := range steps {
		if got := change(s.node, s.user, s.devices, s.snapshot); got.pushed != s.pushed {
			t.Fatalf("step %d %+v: pushed %d", i, s, got.pushed)
		}
	}
	if got := r.dropNode("n1"); got != 1 { // carol goes offline
		t.Fatalf("dropNode pushed %d, want 1", got)
	}
	if n := r.remoteEntries(); n != 0 {
		t.Fatalf("%d remote entries left", n)
	}
	full := &pb.ConvUsers{Conversation: conv, Snapshot: true}
	for i := range maxConvRemoteUsers {
		full.Users = append(full.Users, &pb.PresenceUser{UserId: fmt.Sprintf("u%d", i), Devices: 1})
	}
	if got := r.applyRemote("n2", full); got.capped != 0 || r.remoteEntries() != maxConvRemoteUsers {
		t.Fatalf("a full snapshot: %+v, %d entries", got, r.remoteEntries())
	}
	if got := change("n1", "over", 1, false); got.capped != 1 || got.pushed != 0 {
		t.Fatalf("over the cap: %+v", got)
	}
	if got := r.applyRemote("n1", &pb.ConvUsers{Conversation: "grp:none", Users: []*pb.PresenceUser{{UserId: "bob", Devices: 1}}}); got.ignored != 1 {
		t.Fatalf("no local subscribers: %+v", got)
	}
}
