//go:build !linux

package transport

import (
	"net"
	"time"
)

// tcpInfo is only implemented on Linux.
func tcpInfo(net.Conn) (time.Duration, uint64, uint64, bool) { return 0, 0, 0, false }
