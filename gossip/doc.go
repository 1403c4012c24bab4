// Package gossip will hold the memberlist cluster: membership, node metadata
// and health, presence homes and the node directory (cluster issue). It knows
// nodes and presence, never client sockets.
package gossip
