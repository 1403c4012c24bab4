package netem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config configures a Link.
type Config struct {
	// AtoB and BtoA impair each direction (A is usually the server side).
	AtoB, BtoA Impairment
	// Seed makes the loss pattern reproducible (0: from the clock).
	Seed uint64
	// MTU of the TUN devices. Default 1500.
	MTU int
}

// Addresses inside the namespaces: A is 10.77.0.1, B is 10.77.0.2.
const (
	AddrA = "10.77.0.1"
	AddrB = "10.77.0.2"
)

// Link is two network namespaces joined by emulated paths.
type Link struct {
	// NSA and NSB are the namespace names (for `ip netns exec`).
	NSA, NSB string

	tunA, tunB *os.File
	wg         sync.WaitGroup
	closeOnce  sync.Once
	stats      [2]dirStats
	closing    atomic.Bool
	lossOff    atomic.Bool // StopLoss was called
}

// StopLoss makes both directions lose nothing from now on (delay and rate
// limit stay): a link that recovers, for measuring what clients do when
// the loss ends.
func (l *Link) StopLoss() { l.lossOff.Store(true) }

type dirStats struct {
	packets, dropped, queueDrops, bytes atomic.Uint64
	sizes                               [len(SizeClasses)]struct{ packets, bytes atomic.Uint64 }
}

// SizeClasses are the upper bounds (IP packet bytes, inclusive) of the
// classes Stats.Sizes counts packets in: small ones are acknowledgements
// and control, large ones carry messages, so the split shows where a
// transport's overhead goes.
var SizeClasses = [...]int{80, 160, 320, 640, 1280, 1 << 16}

// SizeCount is the packets and bytes of one size class.
type SizeCount struct {
	Max     int    `json:"max"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Stats are one direction's counters: every packet read from the sending
// side, dropped or not.
type Stats struct {
	Packets, Dropped, QueueDrops, Bytes uint64
	// Sizes splits Packets and Bytes by SizeClasses.
	Sizes []SizeCount
}

func (s *dirStats) count(n int) {
	s.packets.Add(1)
	s.bytes.Add(uint64(n))
	for i, m := range SizeClasses {
		if n <= m {
			s.sizes[i].packets.Add(1)
			s.sizes[i].bytes.Add(uint64(n))
			return
		}
	}
}

var linkSeq atomic.Uint64

// NewLink creates the namespaces and devices and starts forwarding. It
// needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN).
func NewLink(cfg Config) (*Link, error) {
	if err := cfg.AtoB.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.BtoA.Validate(); err != nil {
		return nil, err
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	CleanupStale()
	n := linkSeq.Add(1)
	l := &Link{
		NSA: fmt.Sprintf("egnet-%d-%d-a", os.Getpid(), n),
		NSB: fmt.Sprintf("egnet-%d-%d-b", os.Getpid(), n),
	}
	if err := l.setup(cfg); err != nil {
		l.Close()
		return nil, err
	}
	fwd := func(dir int, from, to *os.File, im Impairment, seed uint64) {
		l.wg.Add(2)
		q := make(chan pkt, 4096)
		imp := newImpairer(im, seed)
		imp.lossOff = &l.lossOff
		go l.readLoop(dir, from, imp, q, cfg.MTU)
		go l.writeLoop(to, q)
	}
	fwd(0, l.tunA, l.tunB, cfg.AtoB, cfg.Seed)
	fwd(1, l.tunB, l.tunA, cfg.BtoA, cfg.Seed+1)
	return l, nil
}

func (l *Link) setup(cfg Config) error {
	for _, ns := range []string{l.NSA, l.NSB} {
		if err := ip("netns", "add", ns); err != nil {
			return err
		}
		if err := ip("-n", ns, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	var err error
	if l.tunA, err = openTUN(l.NSA, "egtun"); err != nil {
		return err
	}
	if l.tunB, err = openTUN(l.NSB, "egtun"); err != nil {
		return err
	}
	for _, c := range [][]string{
		{"-n", l.NSA, "addr", "add", AddrA, "peer", AddrB, "dev", "egtun"},
		{"-n", l.NSB, "addr", "add", AddrB, "peer", AddrA, "dev", "egtun"},
		// A long device queue: the forwarder, not the kernel, must
		// decide what is lost.
		{"-n", l.NSA, "link", "set", "egtun", "mtu", strconv.Itoa(cfg.MTU), "txqueuelen", "10000", "up"},
		{"-n", l.NSB, "link", "set", "egtun", "mtu", strconv.Itoa(cfg.MTU), "txqueuelen", "10000", "up"},
	} {
		if err := ip(c...); err != nil {
			return err
		}
	}
	return nil
}

type pkt struct {
	b  []byte
	at time.Time
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 65536); return &b }}

func (l *Link) readLoop(dir int, from *os.File, im *impairer, q chan<- pkt, mtu int) {
	defer l.wg.Done()
	defer close(q)
	st := &l.stats[dir]
	for {
		bp := bufPool.Get().(*[]byte)
		n, err := from.Read((*bp)[:max(mtu, 1500)+64])
		if err != nil {
			bufPool.Put(bp)
			return
		}
		st.count(n)
		qd := im.queueDrops
		at, drop := im.decide(n, time.Now())
		if drop {
			st.dropped.Add(1)
			if im.queueDrops != qd {
				st.queueDrops.Add(1)
			}
			bufPool.Put(bp)
			continue
		}
		b := append([]byte(nil), (*bp)[:n]...)
		bufPool.Put(bp)
		select {
		case q <- pkt{b: b, at: at}:
		default:
			st.dropped.Add(1) // the forwarder itself is saturated
		}
	}
}

func (l *Link) writeLoop(to *os.File, q <-chan pkt) {
	defer l.wg.Done()
	for p := range q {
		if d := time.Until(p.at); d > 0 {
			time.Sleep(d) // departure times are monotonic per direction
		}
		if _, err := to.Write(p.b); err != nil && l.closing.Load() {
			for range q { // drain until the reader stops
			}
			return
		}
	}
}

// Stats returns the counters of the A->B (0) and B->A (1) directions.
func (l *Link) Stats() (aToB, bToA Stats) {
	get := func(s *dirStats) Stats {
		st := Stats{Packets: s.packets.Load(), Dropped: s.dropped.Load(), QueueDrops: s.queueDrops.Load(), Bytes: s.bytes.Load()}
		for i, m := range SizeClasses {
			st.Sizes = append(st.Sizes, SizeCount{Max: m, Packets: s.sizes[i].packets.Load(), Bytes: s.sizes[i].bytes.Load()})
		}
		return st
	}
	return get(&l.stats[0]), get(&l.stats[1])
}

// Exec returns a command that runs name in namespace ns.
func (l *Link) Exec(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Do runs fn on a thread switched into namespace ns: sockets created by fn
// belong to ns and stay there after it returns.
func (l *Link) Do(ns string, fn func() error) error {
	return inNS(ns, fn)
}

// Close stops forwarding and removes the namespaces (and with them the
// devices and every socket still in them).
func (l *Link) Close() error {
	var errs []error
	l.closeOnce.Do(func() {
		l.closing.Store(true)
		for _, f := range []*os.File{l.tunA, l.tunB} {
			if f != nil {
				_ = f.Close()
			}
		}
		l.wg.Wait()
		for _, ns := range []string{l.NSA, l.NSB} {
			if ns != "" {
				if err := ip("netns", "del", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
					errs = append(errs, err)
				}
			}
		}
	})
	return errors.Join(errs...)
}

// CleanupStale removes egnet-* namespaces left by processes that no longer
// exist (an interrupted run that could not clean up).
func CleanupStale() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		parts := strings.Split(name, "-")
		if len(parts) != 4 || parts[0] != "egnet" {
			continue
		}
		pid, err := strconv.Atoi(parts[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == nil {
			continue // alive
		}
		_ = ip("netns", "del", name)
	}
}

func ip(args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("netem: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// inNS runs fn with the calling goroutine's thread in namespace ns.
func inNS(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netem: %w", err)
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netem: %w", err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netem: setns %s: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with this goroutine instead
		// of running other goroutines in the wrong namespace.
		return fmt.Errorf("netem: restoring namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// openTUN creates TUN device name in namespace ns.
func openTUN(ns, name string) (*os.File, error) {
	var f *os.File
	err := inNS(ns, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("netem: open /dev/net/tun: %w", err)
		}
		var req [unix.IFNAMSIZ + 64]byte
		copy(req[:], name)
		*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.TUNSETIFF), uintptr(unsafe.Pointer(&req[0]))); e != 0 {
			unix.Close(fd)
			return fmt.Errorf("netem: TUNSETIFF %s: %w", name, e)
		}
		f = os.NewFile(uintptr(fd), name)
		return nil
	})
	return f, err
}
