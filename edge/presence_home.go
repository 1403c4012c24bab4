package edge

import (
	"sort"
	"sync"
	"time"

	"github.com/edgegate/edgegate/transport/pb"
)

// tombstoneTTL is how long a home remembers that a node reported a user
// offline, so that an older "online" arriving late is recognised as stale.
// Entries from one node reach a home in order on one link, so this only
// guards against an update that took another path (a re-home and back).
const tombstoneTTL = 30 * time.Second

// homeEntry is what one node last told this home about one user.
type homeEntry struct {
	devices uint32
	version uint64
	gone    time.Time // set when devices is 0: a tombstone, dropped after tombstoneTTL
}

// homeTable is the presence home's state: for each user homed here, the
// device count on every node that has told, with the version it came with.
// Its methods are safe for concurrent use.
type homeTable struct {
	mu    sync.Mutex
	users map[string]map[string]homeEntry // user -> node -> entry
	live  int                             // users with at least one device somewhere
	stale uint64                          // entries ignored as not newer
}

func newHomeTable() *homeTable {
	return &homeTable{users: map[string]map[string]homeEntry{}}
}

// apply records the entries node sent. A snapshot first forgets everything
// node told before. An entry whose version is not above the one held for
// (user, node) is stale and ignored. It returns the number of stale entries.
func (h *homeTable) apply(node string, snapshot bool, entries []*pb.PresenceEntry, now time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if snapshot {
		h.dropNodeLocked(node, false)
	}
	stale := 0
	for _, e := range entries {
		user := e.GetUser()
		nodes := h.users[user]
		if old, ok := nodes[node]; ok && e.GetVersion() <= old.version {
			stale++
			continue
		}
		if nodes == nil {
			nodes = map[string]homeEntry{}
			h.users[user] = nodes
		}
		was := online(nodes)
		ne := homeEntry{devices: e.GetDevices(), version: e.GetVersion()}
		if ne.devices == 0 {
			ne.gone = now
		}
		nodes[node] = ne
		h.countLocked(was, online(nodes))
	}
	h.stale += uint64(stale)
	return stale
}

// online reports whether any node has a device of the user.
func online(nodes map[string]homeEntry) bool {
	for _, e := range nodes {
		if e.devices > 0 {
			return true
		}
	}
	return false
}

func (h *homeTable) countLocked(was, is bool) {
	switch {
	case is && !was:
		h.live++
	case was && !is:
		h.live--
	}
}

// dropNode forgets everything node told (it died or left).
func (h *homeTable) dropNode(node string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropNodeLocked(node, false)
}

// dropNodesExcept forgets the entries of every node not in keep.
func (h *homeTable) dropNodesExcept(keep map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for user, nodes := range h.users {
		was := online(nodes)
		for n := range nodes {
			if !keep[n] {
				delete(nodes, n)
			}
		}
		h.settleLocked(user, nodes, was)
	}
}

// dropNodeLocked deletes node's entries (only tombstones older than
// tombstoneTTL when expiredOnly, with node "" matching every node).
func (h *homeTable) dropNodeLocked(node string, expiredOnly bool) {
	cut := time.Now().Add(-tombstoneTTL)
	for user, nodes := range h.users {
		was := online(nodes)
		for n, e := range nodes {
			if node != "" && n != node {
				continue
			}
			if !expiredOnly || (e.devices == 0 && e.gone.Before(cut)) {
				delete(nodes, n)
			}
		}
		h.settleLocked(user, nodes, was)
	}
}

func (h *homeTable) settleLocked(user string, nodes map[string]homeEntry, was bool) {
	h.countLocked(was, online(nodes))
	if len(nodes) == 0 {
		delete(h.users, user)
	}
}

// sweep drops tombstones older than tombstoneTTL.
func (h *homeTable) sweep() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropNodeLocked("", true)
}

// lookup returns where each user is connected, in the order asked.
func (h *homeTable) lookup(users []string) []*pb.PresenceLocation {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*pb.PresenceLocation, len(users))
	for i, u := range users {
		loc := &pb.PresenceLocation{User: u}
		for n, e := range h.users[u] {
			if e.devices > 0 {
				loc.Nodes = append(loc.Nodes, &pb.PresenceNode{Node: n, Devices: e.devices})
			}
		}
		sort.Slice(loc.Nodes, func(a, b int) bool { return loc.Nodes[a].Node < loc.Nodes[b].Node })
		out[i] = loc
	}
	return out
}

// onlineUsers returns how many users homed here are online somewhere.
func (h *homeTable) onlineUsers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.live
}
