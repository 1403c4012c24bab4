package transport

import "time"

// tcpStats are the figures tcpInfo reads from the kernel's TCP_INFO: the
// RTT estimate, retransmissions, data segments sent and received (pure
// ACKs left out: they are never retransmitted, and a receiving client
// sends mostly those) and segments received out of order.
type tcpStats struct {
	rtt                             time.Duration
	retrans, segsOut, segsIn, oooIn uint64
}
