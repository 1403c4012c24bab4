//go:build !linux

package transport

import "net"

// tcpInfo is only implemented on Linux.
func tcpInfo(net.Conn) (tcpStats, bool) { return tcpStats{}, false }
