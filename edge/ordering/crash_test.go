package ordering

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edge/store"
)

// crashDirEnv tells the re-executed test binary to run as the crash child.
const crashDirEnv = "EDGEGATE_ORDERING_CRASH_DIR"

// TestCrashChild is the child half of TestCrashSafety: it appends forever
// and prints "ACK conv seq id" for each acknowledged message. It is skipped
// in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process of TestCrashSafety only")
	}
	st, err := store.Open(dir, store.Options{Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	l, err := NewLocal(st, LocalOptions{Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, "orderer:", err)
		os.Exit(2)
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			conv := fmt.Sprintf("c%d", g%3)
			for i := 0; ; i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				res, err := l.Append(context.Background(), req(conv, fmt.Sprintf("u%d", g), id))
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				out.Lock()
				// Unbuffered write: once it returns the parent can read it.
				fmt.Fprintf(os.Stdout, "ACK %s %d %s\n", conv, res.Msg.GetSeq(), id)
				out.Unlock()
			}
		})
	}
	wg.Wait() // never returns; the parent kills the process
}

// TestCrashSafety kills (SIGKILL) a process that is appending and checks
// that every message it acknowledged survives, with no gap.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		conv string
		seq  uint64
		id   string
	}
	var acks []ack
	const killAfter = 1000
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "ACK" {
			continue // test framework output, or a line cut by the kill
		}
		seq, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			continue
		}
		acks = append(acks, ack{f[1], seq, f[3]})
		if len(acks) == killAfter && !killed {
			killed = true
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
		}
	}
	_ = cmd.Wait() // "signal: killed" is expected
	if !killed {
		t.Fatalf("child exited after %d acks: %s", len(acks), stderr.String())
	}

	st := openStore(t, dir)
	maxAcked := map[string]uint64{}
	for _, a := range acks {
		m, ok, err := st.Get(a.conv, a.seq)
		if err != nil || !ok {
			t.Fatalf("acked %s/%d (%s) lost: %v", a.conv, a.seq, a.id, err)
		}
		if m.GetClientMsgId() != a.id {
			t.Fatalf("acked %s/%d is %s, stored %s", a.conv, a.seq, a.id, m.GetClientMsgId())
		}
		maxAcked[a.conv] = max(maxAcked[a.conv], a.seq)
	}
	for conv, acked := range maxAcked {
		head, err := st.Head(conv)
		if err != nil || head < acked {
			t.Fatalf("%s head %d < acked %d (%v)", conv, head, acked, err)
		}
		ids := map[string]bool{}
		for after := uint64(0); after < head; {
			msgs, err := st.Read(conv, after, store.MaxReadLimit)
			if err != nil || len(msgs) == 0 {
				t.Fatalf("%s read after %d: %d msgs, %v", conv, after, len(msgs), err)
			}
			for _, m := range msgs {
				if m.GetSeq() != after+1 {
					t.Fatalf("%s gap: seq %d after %d", conv, m.GetSeq(), after)
				}
				if ids[m.GetClientMsgId()] {
					t.Fatalf("%s: id %s stored twice", conv, m.GetClientMsgId())
				}
				ids[m.GetClientMsgId()] = true
				after = m.GetSeq()
			}
		}
	}
	t.Logf("%d acks before kill, all present", len(acks))
}
