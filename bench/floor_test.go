package bench

import (
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkLoopbackFrameFloor measures the machine's floor for room
// fan-out: the CPU (user + system, both ends) to move one small frame over
// a loopback TCP connection with plain net.Conn writes and reads, no
// WebSocket, no edge. Every delivered room frame costs at least this much,
// so a fan-out to N viewers costs at least N times this much CPU:
//
//	go test -run '^$' -bench LoopbackFrameFloor -count 5 ./bench
//
// Compare edgebench rooms figures with it (cpu-us/frame): on the 2-vCPU
// development VM it is 13-15 us, so one comment to 10k viewers needs
// ~140 ms of CPU, ~70 ms of wall time on two perfectly used cores, before
// any gateway or client work.
func BenchmarkLoopbackFrameFloor(b *testing.B) {
	const conns = 1000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var readers sync.WaitGroup
	servers := make([]net.Conn, 0, conns)
	for range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		servers = append(servers, s)
		readers.Go(func() {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		})
	}
	frame := make([]byte, 200)
	cpu0 := cpuTime()
	frames := 0
	b.ResetTimer()
	for b.Loop() {
		for _, s := range servers {
			if _, err := s.Write(frame); err != nil {
				b.Fatal(err)
			}
		}
		frames += conns
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	for _, s := range servers {
		s.Close()
	}
	readers.Wait()
	b.ReportMetric(float64(cpu.Microseconds())/float64(frames), "cpu-us/frame")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(frames), "wall-us/frame")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
