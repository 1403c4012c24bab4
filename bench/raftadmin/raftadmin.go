package raftadmin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Group is one group's replica on a node, as GET /v1/raft/groups shows it.
type Group struct {
	Group     uint32 `json:"group"`
	State     string `json:"state"`
	Leader    string `json:"leader"`
	Term      uint64 `json:"term"`
	Applied   uint64 `json:"applied"`
	StateHash string `json:"state_hash"`
}

// Status is a node's answer to GET /v1/raft/groups.
type Status struct {
	Node     string  `json:"node"`
	Isolated bool    `json:"isolated"`
	Groups   []Group `json:"groups"`
}

// Groups reads GET /v1/raft/groups from the edge at base (http://host:port);
// hash asks for the replicas' state hashes.
func Groups(ctx context.Context, base, apiKey string, hash bool) (Status, error) {
	var out Status
	err := call(ctx, "GET", fmt.Sprintf("%s/v1/raft/groups?hash=%v", base, hash), apiKey, nil, &out)
	return out, err
}

// Isolate cuts the edge at base off its Raft peers (on) or heals it; the
// edge must run with --raft-fault-injection.
func Isolate(ctx context.Context, base, apiKey string, on bool) error {
	return call(ctx, "POST", base+"/v1/raft/isolate", apiKey, fmt.Appendf(nil, `{"isolated":%v}`, on), nil)
}

// StatusError is an API answer other than 200 OK.
type StatusError struct {
	Method, URL string
	Code        int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("raftadmin: %s %s: status %d", e.Method, e.URL, e.Code)
}

// Get reads one edge API resource (with the API key) into out; an answer
// other than 200 is a *StatusError.
func Get(ctx context.Context, url, apiKey string, out any) error {
	return call(ctx, "GET", url, apiKey, nil, out)
}

// call sends one API request and decodes a 200 answer into out (nil:
// the body is ignored); another status is a *StatusError.
func call(ctx context.Context, method, url, apiKey string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Method: method, URL: url, Code: resp.StatusCode}
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Diff compares the nodes' statuses (each read with state hashes): it
// returns "" when every group has the same leader, named by every node,
// and the same applied index and state hash on every node, else the first
// difference found.
func Diff(nodes []Status) string {
	if len(nodes) == 0 {
		return "no nodes"
	}
	first := nodes[0]
	for _, other := range nodes[1:] {
		if len(other.Groups) != len(first.Groups) {
			return fmt.Sprintf("%s has %d groups, %s has %d", first.Node, len(first.Groups), other.Node, len(other.Groups))
		}
		for i, g := range other.Groups {
			f := first.Groups[i]
			if g.Group != f.Group || g.Leader != f.Leader || g.Leader == "" || g.Applied != f.Applied || g.StateHash != f.StateHash {
				return fmt.Sprintf("group %d: %s has %+v, %s has %+v", g.Group, first.Node, f, other.Node, g)
			}
		}
	}
	return ""
}
