package netem

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// newTestLink creates a Link; the test needs root and iproute2, as the
// weak-network benchmark does (make test runs as root in CI).
func newTestLink(t *testing.T, cfg Config) *Link {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("netem needs root (network namespaces and TUN devices)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("netem needs iproute2 (ip)")
	}
	l, err := NewLink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		out, _ := exec.Command("ip", "netns", "list").Output()
		if strings.Contains(string(out), l.NSA) || strings.Contains(string(out), l.NSB) {
			t.Errorf("namespaces left after Close:\n%s", out)
		}
	})
	return l
}

// udpPair returns a UDP socket in B listening on AddrB and one in A
// connected to it.
func udpPair(t *testing.T, l *Link) (a, b *net.UDPConn) {
	t.Helper()
	err := l.Do(l.NSB, func() (err error) {
		b, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(AddrB), Port: 0})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = l.Do(l.NSA, func() (err error) {
		a, err = net.DialUDP("udp4", nil, b.LocalAddr().(*net.UDPAddr))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestLinkDelaysBothWays(t *testing.T) {
	const delay = 20 * time.Millisecond
	l := newTestLink(t, Config{AtoB: Impairment{Delay: delay}, BtoA: Impairment{Delay: delay}, Seed: 1})
	a, b := udpPair(t, l)
	go func() { // echo
		buf := make([]byte, 1500)
		for {
			n, from, err := b.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = b.WriteToUDP(buf[:n], from)
		}
	}()
	buf := make([]byte, 1500)
	for i := range 20 {
		start := time.Now()
		msg := binary.BigEndian.AppendUint32(nil, uint32(i))
		if _, err := a.Write(msg); err != nil {
			t.Fatal(err)
		}
		_ = a.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := a.Read(buf)
		if err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], msg) {
			t.Fatalf("echo %d: got %x", i, buf[:n])
		}
		if rtt := time.Since(start); rtt < 2*delay {
			t.Fatalf("echo %d: rtt %v below the emulated %v", i, rtt, 2*delay)
		}
	}
}

func TestLinkRandomLoss(t *testing.T) {
	l := newTestLink(t, Config{AtoB: Impairment{Loss: 0.2}, Seed: 7})
	a, b := udpPair(t, l)
	const n = 3000
	got := make(chan int)
	go func() {
		buf := make([]byte, 1500)
		count := 0
		for {
			_ = b.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := b.Read(buf); err != nil {
				got <- count
				return
			}
			count++
		}
	}()
	for i := range n {
		if _, err := a.Write(binary.BigEndian.AppendUint32(nil, uint32(i))); err != nil {
			t.Fatal(err)
		}
		if i%20 == 19 {
			time.Sleep(time.Millisecond) // pace: a load, not a flood of the device queue
		}
	}
	received := <-got
	aToB, _ := l.Stats()
	if rate := 1 - float64(received)/n; rate < 0.16 || rate > 0.24 {
		t.Fatalf("received %d of %d (loss %.3f), want about 0.2; stats %+v", received, n, rate, aToB)
	}
	if aToB.Dropped == 0 || aToB.Packets < n { // the kernel may add a packet of its own
		t.Fatalf("stats %+v", aToB)
	}
	// Every packet is counted in one size class: these (32-byte IP
	// packets) in the smallest.
	var packets, bytes uint64
	for _, c := range aToB.Sizes {
		packets += c.Packets
		bytes += c.Bytes
	}
	if packets != aToB.Packets || bytes != aToB.Bytes || aToB.Sizes[0].Packets < n {
		t.Fatalf("size classes %+v do not add up to %d packets, %d bytes", aToB.Sizes, aToB.Packets, aToB.Bytes)
	}
}

func TestLinkTCPSurvivesLoss(t *testing.T) {
	l := newTestLink(t, Config{
		AtoB: Impairment{Delay: 5 * time.Millisecond, Loss: 0.05, BurstLen: 3},
		BtoA: Impairment{Delay: 5 * time.Millisecond, Loss: 0.05}, Seed: 3,
	})
	var ln net.Listener
	if err := l.Do(l.NSB, func() (err error) { ln, err = net.Listen("tcp4", AddrB+":0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	payload := make([]byte, 256<<10)
	_, _ = rand.Read(payload)
	done := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- nil
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
		b, _ := io.ReadAll(c)
		done <- b
	}()
	var c net.Conn
	if err := l.Do(l.NSA, func() (err error) { c, err = net.DialTimeout("tcp4", ln.Addr().String(), 10*time.Second); return err }); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := <-done; !bytes.Equal(got, payload) {
		t.Fatalf("received %d of %d bytes intact", len(got), len(payload))
	}
	aToB, _ := l.Stats()
	if aToB.Dropped == 0 {
		t.Fatalf("no packet dropped: %+v", aToB)
	}
}
