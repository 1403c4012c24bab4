package client

import "slices"

// edgeList is the round of edges a client goes through: primary first,
// then the alternates, without empties or repeats.
func edgeList(primary string, alternates []string) []string {
	out := make([]string, 0, 1+len(alternates))
	for _, u := range append([]string{primary}, alternates...) {
		if u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// nextEdge points the next connect at the next edge of the round after
// the current one could not be reached. It reports false when there is
// no other edge, or while the session is on the fallback's QUIC URL
// (that failure returns to WebSocket first, see quicFailed).
func (c *Client) nextEdge() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.onQUIC || len(c.edges) < 2 {
		return false
	}
	c.edge = (c.edge + 1) % len(c.edges)
	c.url = c.edges[c.edge]
	c.stats.edgeSwitches.Add(1)
	return true
}

// edgeCount is the number of edges in the round.
func (c *Client) edgeCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.edges)
}

// redirectTo replaces the round with a Redirect's URLs (the first is
// dialled next). Empty lists change nothing.
func (c *Client) redirectTo(urls []string) {
	list := edgeList("", urls)
	if len(list) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// The session leaves the fallback's QUIC URL for the redirect's: it is
	// no longer "moved" (a return to WebSocket would go to the edge that
	// sent it away).
	c.edges, c.edge, c.url, c.onQUIC = list, 0, list[0], false
}
