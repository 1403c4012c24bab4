package transport

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tcpInfo reads a TCP connection's link figures from the kernel. ok is
// false when c is not TCP or the call fails.
func tcpInfo(c net.Conn) (ti tcpStats, ok bool) {
	sc, isSys := c.(syscall.Conn)
	if !isSys {
		return ti, false
	}
	if _, isTCP := c.(*net.TCPConn); !isTCP {
		return ti, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return ti, false
	}
	var info *unix.TCPInfo
	var ierr error
	if err := raw.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || ierr != nil {
		return ti, false
	}
	return tcpStats{
		rtt:     time.Duration(info.Rtt) * time.Microsecond,
		retrans: uint64(info.Total_retrans),
		segsOut: uint64(info.Data_segs_out),
		segsIn:  uint64(info.Data_segs_in),
		oooIn:   uint64(info.Rcv_ooopack),
	}, true
}
