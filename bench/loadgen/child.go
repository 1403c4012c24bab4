package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"github.com/edgegate/edgegate/bench/hist"
)

// Multi-process mode (--procs K). The coordinator starts K children with
// Spawner; each runs ServeChild and speaks JSON lines:
//
//	coordinator -> child: childSpec
//	child -> coordinator: {"op":"ready","connected":..,"failed":..,"error":..}
//	coordinator -> child: {"op":"finish","finish":{...}}
//	child -> coordinator: {"op":"result","result":{...},"latency_hist":..,"ack_hist":..}
//
// A child whose stdin closes early closes its clients and exits. Children
// log to their stderr only; stdout carries the protocol.

// Spawner returns a command, not yet started, that runs ServeChild on its
// stdin and stdout (cmd/edgebench re-executes itself: "edgebench child").
// The command's Stderr may be set; Stdin and Stdout must be left nil.
type Spawner func(ctx context.Context) *exec.Cmd

// childSpec tells a child what to run.
type childSpec struct {
	Scenario string        `json:"scenario"`
	Options  Options       `json:"options"`
	Base     int           `json:"base"`
	N        int           `json:"n"`
	Rooms    *RoomsOptions `json:"rooms,omitempty"`
	Chat     *ChatOptions  `json:"chat,omitempty"`
}

// ctrlMsg is every message after the spec.
type ctrlMsg struct {
	Op        string         `json:"op"`
	Connected int            `json:"connected,omitempty"`
	Failed    int            `json:"failed,omitempty"`
	Error     string         `json:"error,omitempty"`
	Finish    *finishMsg     `json:"finish,omitempty"`
	Result    *Result        `json:"result,omitempty"`
	Latency   *hist.Snapshot `json:"latency_hist,omitempty"`
	Ack       *hist.Snapshot `json:"ack_hist,omitempty"`
	Outage    *hist.Snapshot `json:"outage_hist,omitempty"`
	LatSame   *hist.Snapshot `json:"latency_same_hist,omitempty"`
	LatCross  *hist.Snapshot `json:"latency_cross_hist,omitempty"`
	LatSteady *hist.Snapshot `json:"latency_steady_hist,omitempty"`
}

// histSlot is one of a Result's histograms and its snapshot field in a
// ctrlMsg.
type histSlot struct {
	h **hist.Histogram
	s **hist.Snapshot
}

// histSlots lists r's histograms beside their fields in m.
func histSlots(r *Result, m *ctrlMsg) []histSlot {
	return []histSlot{{&r.latency, &m.Latency}, {&r.ackLatency, &m.Ack}, {&r.outage, &m.Outage},
		{&r.latSame, &m.LatSame}, {&r.latCross, &m.LatCross}, {&r.latSteady, &m.LatSteady}}
}

// maxLine bounds one protocol line (a histogram snapshot is < 200 KiB).
const maxLine = 16 << 20

// ErrChild is wrapped by failures of a child process.
var ErrChild = errors.New("loadgen: child process")

// remotePart is a part run by a child process.
type remotePart struct {
	spawn Spawner
	spec  childSpec
	log   *slog.Logger

	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	done chan error
	once sync.Once
}

func (p *remotePart) connect(ctx context.Context) (int, int, error) {
	cmd := p.spawn(ctx)
	in, err := cmd.StdinPipe()
	if err != nil {
		return 0, p.spec.N, fmt.Errorf("%w: %w", ErrChild, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, p.spec.N, fmt.Errorf("%w: %w", ErrChild, err)
	}
	if err := cmd.Start(); err != nil {
		return 0, p.spec.N, fmt.Errorf("%w: start: %w", ErrChild, err)
	}
	p.cmd, p.in = cmd, in
	p.out = bufio.NewScanner(out)
	p.out.Buffer(make([]byte, 64<<10), maxLine)
	p.done = make(chan error, 1)
	if err := p.send(p.spec); err != nil {
		return 0, p.spec.N, err
	}
	var m ctrlMsg
	if err := p.recv(&m, "ready"); err != nil {
		return 0, p.spec.N, err
	}
	var cerr error
	if m.Error != "" {
		cerr = fmt.Errorf("%w %d: %s", ErrChild, cmd.Process.Pid, m.Error)
	}
	return m.Connected, m.Failed, cerr
}

func (p *remotePart) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrChild, err)
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%w: write: %w", ErrChild, err)
	}
	return nil
}

func (p *remotePart) recv(m *ctrlMsg, op string) error {
	if !p.out.Scan() {
		err := p.out.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: waiting for %q: %w", ErrChild, op, err)
	}
	if err := json.Unmarshal(p.out.Bytes(), m); err != nil {
		return fmt.Errorf("%w: bad message: %w", ErrChild, err)
	}
	if m.Op == "error" {
		return fmt.Errorf("%w: %s", ErrChild, m.Error)
	}
	if m.Op != op {
		return fmt.Errorf("%w: got %q, want %q", ErrChild, m.Op, op)
	}
	return nil
}

func (p *remotePart) finish(ctx context.Context, f finishMsg) (*Result, error) {
	if p.cmd == nil {
		return &Result{}, nil
	}
	defer p.abort()
	if err := p.send(ctrlMsg{Op: "finish", Finish: &f}); err != nil {
		return nil, err
	}
	var m ctrlMsg
	if err := p.recv(&m, "result"); err != nil {
		return nil, err
	}
	r := m.Result
	if r == nil {
		return nil, fmt.Errorf("%w: result missing", ErrChild)
	}
	for _, slot := range histSlots(r, &m) {
		if *slot.s == nil {
			continue
		}
		h, err := hist.FromSnapshot(**slot.s)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrChild, err)
		}
		*slot.h = h
	}
	return r, nil
}

// abort closes the child's stdin (it then exits) and waits for it, killing
// it after a grace period.
func (p *remotePart) abort() {
	if p.cmd == nil {
		return
	}
	p.once.Do(func() {
		_ = p.in.Close()
		go func() { p.done <- p.cmd.Wait() }()
		t := time.NewTimer(30 * time.Second)
		defer t.Stop()
		select {
		case err := <-p.done:
			if err != nil {
				p.log.Warn("child exited", "err", err)
			}
		case <-t.C:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// ServeChild runs one child's share of a scenario, speaking the JSON line
// protocol on in and out (see Spawner). It returns when the coordinator
// has the result or has gone away.
func ServeChild(ctx context.Context, in io.Reader, out io.Writer, logger *slog.Logger) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	enc := json.NewEncoder(out)
	fail := func(err error) error {
		_ = enc.Encode(ctrlMsg{Op: "error", Error: err.Error()})
		return err
	}
	if !sc.Scan() {
		return fmt.Errorf("%w: no spec on stdin", ErrChild)
	}
	var spec childSpec
	if err := json.Unmarshal(sc.Bytes(), &spec); err != nil {
		return fail(fmt.Errorf("%w: bad spec: %w", ErrChild, err))
	}
	spec.Options.Logger = logger
	e, err := newEnv(spec.Options)
	if err != nil {
		return fail(err)
	}
	var p part
	switch spec.Scenario {
	case "idle":
		p = newIdlePart(e, spec.Base, spec.N)
	case "rooms":
		if spec.Rooms == nil {
			return fail(fmt.Errorf("%w: rooms options missing", ErrChild))
		}
		p = newRoomsPart(spec.Rooms.withDefaults())(e, spec.Base, spec.N)
	case "chat":
		if spec.Chat == nil {
			return fail(fmt.Errorf("%w: chat options missing", ErrChild))
		}
		p = newChatPart(spec.Chat.withDefaults())(e, spec.Base, spec.N)
	default:
		return fail(fmt.Errorf("%w: unknown scenario %q", ErrChild, spec.Scenario))
	}
	// The coordinator going away (stdin closed) cancels everything.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lines := make(chan []byte)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer cancel()
		for sc.Scan() {
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() { cancel(); <-readerDone }()

	connected, failed, cerr := p.connect(ctx)
	ready := ctrlMsg{Op: "ready", Connected: connected, Failed: failed}
	if cerr != nil {
		ready.Error = cerr.Error()
	}
	if err := enc.Encode(ready); err != nil {
		p.abort()
		return err
	}
	var m ctrlMsg
	select {
	case b := <-lines:
		if err := json.Unmarshal(b, &m); err != nil || m.Op != "finish" || m.Finish == nil {
			p.abort()
			return fail(fmt.Errorf("%w: expected finish, got %q", ErrChild, b))
		}
	case <-ctx.Done():
		p.abort()
		return fmt.Errorf("%w: coordinator went away", ErrChild)
	}
	r, err := p.finish(ctx, *m.Finish)
	if err != nil {
		return fail(err)
	}
	msg := ctrlMsg{Op: "result", Result: r}
	for _, slot := range histSlots(r, &msg) {
		if *slot.h != nil {
			s := (*slot.h).Snapshot()
			*slot.s = &s
		}
	}
	return enc.Encode(msg)
}
