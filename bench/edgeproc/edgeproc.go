package edgeproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure Start.
type Options struct {
	// Bin is the edge binary. Required.
	Bin string
	// Args are extra flags after the defaults (--dev --listen 127.0.0.1:0
	// --data DIR --conn-rate-per-ip -1 --message-rate 10000
	// --message-burst 10000); later flags win.
	Args []string
	// DataDir is the data directory; empty means a new temporary one that
	// Stop removes.
	DataDir string
	// Stderr receives the edge's logs; nil discards them.
	Stderr io.Writer
	// StartTimeout bounds the wait for the banner and /readyz. Default 30 s.
	StartTimeout time.Duration
	// Wrap prefixes the command (e.g. "ip", "netns", "exec", NS to run
	// the edge inside a network namespace).
	Wrap []string
	// Listen is the HTTP/WebSocket address. Default 127.0.0.1:0.
	Listen string
	// QUICListen, when set, makes the edge listen for QUIC there too
	// (dev certificate; Proc.QUICAddr and Proc.CertSHA256 are filled).
	QUICListen string
	// Ready, when set, replaces the /readyz check (for an edge in a
	// namespace this process cannot reach over HTTP directly).
	Ready func(ctx context.Context, p *Proc) error
}

// Proc is a running edge.
type Proc struct {
	// Addr is the edge's HTTP and WebSocket host:port.
	Addr string
	// Secret is the edge's HMAC token secret.
	Secret string
	// APIKey is the edge's backend API key.
	APIKey string
	// QUICAddr and CertSHA256 are the QUIC listener and the SHA-256 of
	// its dev certificate (with Options.QUICListen).
	QUICAddr, CertSHA256 string

	wantQUIC bool

	cmd     *exec.Cmd
	opts    Options // as started, DataDir and Listen filled
	tmpDir  string
	done    chan struct{}
	waitErr error
	stop    sync.Once
}

// Start runs the edge and waits until it is ready.
func Start(ctx context.Context, o Options) (*Proc, error) {
	if o.Bin == "" {
		return nil, errors.New("edgeproc: no edge binary")
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	p := &Proc{done: make(chan struct{})}
	data := o.DataDir
	if data == "" {
		d, err := os.MkdirTemp("", "edgebench-edge-")
		if err != nil {
			return nil, fmt.Errorf("edgeproc: %w", err)
		}
		p.tmpDir, data = d, d
	}
	// Per-IP connection limiting is off (every benchmark client comes from
	// the same host) and the per-session message rate is far above what a
	// scenario asks of one client (a rooms publisher sends --rate
	// comments/s; the production default of 50/s would cap it).
	listen := o.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	p.opts = o
	p.opts.DataDir, p.opts.Listen = data, listen
	args := []string{"--dev", "--listen", listen, "--data", data, "--conn-rate-per-ip", "-1",
		"--message-rate", "10000", "--message-burst", "10000"}
	if o.QUICListen != "" {
		args = append(args, "--quic-listen", o.QUICListen)
		p.wantQUIC = true
	}
	args = append(args, o.Args...)
	bin := o.Bin
	if len(o.Wrap) > 0 {
		bin, args = o.Wrap[0], append(append(append([]string(nil), o.Wrap[1:]...), o.Bin), args...)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stderr = o.Stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		p.cleanup()
		return nil, fmt.Errorf("edgeproc: %w", err)
	}
	if err := p.cmd.Start(); err != nil {
		p.cleanup()
		return nil, fmt.Errorf("edgeproc: start %s: %w", o.Bin, err)
	}
	banner := make(chan error, 1)
	go func() {
		banner <- p.readBanner(out)
		_, _ = io.Copy(io.Discard, out)
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	select {
	case err = <-banner:
	case <-ctx.Done():
		err = fmt.Errorf("edgeproc: no banner from the edge: %w", ctx.Err())
	}
	if err == nil {
		if o.Ready != nil {
			err = o.Ready(ctx, p)
		} else {
			err = p.waitReady(ctx)
		}
	}
	if err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// readBanner parses the --dev banner printed by cmd/edge.
func (p *Proc) readBanner(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "edgegate dev edge is up: http://"):
			p.Addr = strings.TrimSuffix(strings.TrimPrefix(line, "edgegate dev edge is up: http://"), "/")
		case strings.HasPrefix(line, "HMAC secret:"):
			if f := strings.Fields(strings.TrimPrefix(line, "HMAC secret:")); len(f) > 0 {
				p.Secret = f[0]
			}
		case strings.HasPrefix(line, "API key:"):
			p.APIKey = strings.TrimSpace(strings.TrimPrefix(line, "API key:"))
		case strings.HasPrefix(line, "QUIC:"):
			// QUIC:        quic://ADDR (or quic+fec://)   certificate sha256 HEX
			f := strings.Fields(line)
			if len(f) >= 5 {
				p.QUICAddr = strings.TrimPrefix(f[1], "quic://")
				p.CertSHA256 = f[len(f)-1]
			}
		}
		if p.Addr != "" && p.Secret != "" && p.APIKey != "" && (!p.wantQUIC || p.QUICAddr != "") {
			return nil
		}
	}
	return fmt.Errorf("edgeproc: edge exited before printing its dev banner (see its logs)")
}

func (p *Proc) waitReady(ctx context.Context) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.Addr+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("edgeproc: edge at %s not ready: %w", p.Addr, ctx.Err())
		case <-p.done:
			t.Stop()
			return fmt.Errorf("edgeproc: edge exited while starting: %v", p.waitErr)
		case <-t.C:
		}
	}
}

// Stop sends SIGTERM, waits up to 30 s for the drain, then kills the edge,
// and removes a temporary data directory. It returns the exit error of a
// process that did not stop cleanly.
func (p *Proc) Stop() error {
	var err error
	p.stop.Do(func() {
		err = p.Drain()
		p.cleanup()
	})
	return err
}

// Kill ends the edge with SIGKILL (a crash: no drain, no clean close of
// its stores) and waits for it to exit. Its data directory is kept for
// Restart; Stop still removes a temporary one.
func (p *Proc) Kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Drain sends SIGTERM and waits (up to 30 s, then SIGKILL) for the edge to
// drain and exit, keeping its data directory for Restart (Stop still
// removes a temporary one). It returns the exit error of an edge that did
// not stop cleanly.
func (p *Proc) Drain() error {
	if p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
		return p.waitErr
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("edgeproc: the edge did not drain within 30 s")
	}
}

// Restart starts the edge again, after Kill, with the same flags, data
// directory and HTTP address (the process it returns owns a temporary
// data directory from now on; p must not be used again).
func (p *Proc) Restart(ctx context.Context) (*Proc, error) {
	o := p.opts
	if o.Listen == "127.0.0.1:0" {
		o.Listen = p.Addr
	}
	q, err := Start(ctx, o)
	if err != nil {
		return nil, err
	}
	q.tmpDir, p.tmpDir = p.tmpDir, ""
	return q, nil
}

func (p *Proc) cleanup() {
	if p.tmpDir != "" {
		_ = os.RemoveAll(p.tmpDir)
	}
}
