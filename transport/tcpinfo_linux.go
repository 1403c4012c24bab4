package transport

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tcpInfo reads the kernel's RTT estimate, retransmission count and data
// segments sent (pure ACKs left out: they are never retransmitted, and a
// receiving client sends mostly those) for a TCP connection. ok is false when c is not TCP or the
// call fails.
func tcpInfo(c net.Conn) (rtt time.Duration, retrans, segsOut uint64, ok bool) {
	sc, isSys := c.(syscall.Conn)
	if !isSys {
		return 0, 0, 0, false
	}
	if _, isTCP := c.(*net.TCPConn); !isTCP {
		return 0, 0, 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, 0, 0, false
	}
	var info *unix.TCPInfo
	var ierr error
	if err := raw.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || ierr != nil {
		return 0, 0, 0, false
	}
	return time.Duration(info.Rtt) * time.Microsecond, uint64(info.Total_retrans), uint64(info.Data_segs_out), true
}
