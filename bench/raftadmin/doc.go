// Package raftadmin is a small client of an edge's Raft admin routes
// (GET /v1/raft/groups, POST /v1/raft/isolate) and the replica check
// built on them, shared by edgebench's Raft scenarios and the tests that
// run Raft regions (edge, edge/itest).
//
// It owns only the client side of those two routes. It must not import
// the edge's packages: it speaks JSON over HTTP, as an operator's tool
// would.
package raftadmin
