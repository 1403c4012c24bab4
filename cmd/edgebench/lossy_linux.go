package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/edgegate/edgegate/bench/edgeproc"
	"github.com/edgegate/edgegate/bench/loadgen"
	"github.com/edgegate/edgegate/bench/netem"
)

// runLossy is `edgebench lossy`: chat traffic over an emulated weak link.
// It creates a netem link (two namespaces), starts a fresh edge from
// --edge-bin in namespace A (WebSocket and QUIC), runs the chat clients in
// one child edgebench process in namespace B, and removes everything at
// the end (also on error or interrupt: the deferred Close, and stale
// namespaces of dead runs are removed by the next one). Needs root.
func runLossy(ctx context.Context, args []string, stderr io.Writer) (output, error) {
	fs := flag.NewFlagSet("edgebench lossy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.define(fs)
	var (
		tr                string
		loss, burst, rate float64
		rttMs, pairs      int
		sizes             = sizeRange{500, 500}
		rateLimit         int64
		lossFor           time.Duration
		returnAfter       time.Duration
	)
	fs.StringVar(&tr, "transport", "ws", "ws, quic-stream, quic-fec, quic-fec-inquic (FEC datagrams inside QUIC) or auto (WebSocket with the SDK's fallback to quic-fec)")
	fs.Float64Var(&loss, "loss", 0, "packet loss in percent, each direction")
	fs.Float64Var(&burst, "burst", 0, "mean loss burst length in packets (Gilbert-Elliott); <= 1: independent losses")
	fs.IntVar(&rttMs, "rtt", 50, "round-trip time in ms (half each way)")
	fs.Int64Var(&rateLimit, "rate-limit", 0, "link rate in bits/s each direction (0: unlimited)")
	fs.IntVar(&pairs, "pairs", 5, "1:1 conversations")
	fs.Float64Var(&rate, "rate", 10, "messages per second sent by each side")
	fs.DurationVar(&lossFor, "loss-for", 0, "stop the loss this long after the run starts, clients' connect included (0: loss for the whole run); with --return-after, to see auto clients go back to WebSocket")
	fs.DurationVar(&returnAfter, "return-after", 0, "auto clients' Fallback.ReturnAfter: back to WebSocket once quic-fec looked clean this long (0: never)")
	fs.Var(&sizes, "size", "message body bytes, or MIN-MAX for sizes uniform in that range (default 500)")
	if err := fs.Parse(args); err != nil {
		return output{}, err
	}
	if c.edgeBin == "" {
		return output{}, errors.New("lossy needs --edge-bin (it starts its own edge inside the emulated network)")
	}
	if os.Geteuid() != 0 {
		return output{}, errors.New("lossy needs root (network namespaces and TUN devices)")
	}
	im := netem.Impairment{Delay: time.Duration(rttMs) * time.Millisecond / 2, Loss: loss / 100, BurstLen: burst, RateBps: rateLimit}
	link, err := netem.NewLink(netem.Config{AtoB: im, BtoA: im})
	if err != nil {
		return output{}, err
	}
	defer link.Close()

	inB := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := link.Do(link.NSB, func() (err error) {
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	eo := edgeproc.Options{
		Bin: c.edgeBin, Args: strings.Fields(c.edgeArgs),
		Wrap:   []string{"ip", "netns", "exec", link.NSA},
		Listen: netem.AddrA + ":0", QUICListen: netem.AddrA + ":0",
		Ready: func(ctx context.Context, p *edgeproc.Proc) error {
			for ctx.Err() == nil {
				if conn, err := inB(ctx, "tcp", p.Addr); err == nil {
					conn.Close()
					return nil
				}
				time.Sleep(20 * time.Millisecond)
			}
			return ctx.Err()
		},
	}
	if c.edgeLogs {
		eo.Stderr = stderr
	}
	p, err := edgeproc.Start(ctx, eo)
	if err != nil {
		return output{}, err
	}
	defer p.Stop()

	c.edgeBin = "" // the options below point at this edge
	c.secret = p.Secret
	o, err := c.options(stderr)
	if err != nil {
		return output{}, err
	}
	o.Addrs, o.APIKey = []string{p.Addr}, p.APIKey
	o.Transport, o.QUICAddrs, o.QUICCertSHA256 = tr, []string{p.QUICAddr}, p.CertSHA256
	// The edge's metrics are read from inside its own namespace: a scrape
	// over the impaired link can stall for seconds under bursty loss, and
	// it is not part of what is measured.
	o.ScrapeDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := link.Do(link.NSA, func() (err error) {
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	o.NoCompression = true
	o.ReturnAfter = returnAfter
	if lossFor > 0 {
		stop := time.AfterFunc(lossFor, link.StopLoss)
		defer stop.Stop()
	}
	spawn, err := spawner(stderr, "ip", "netns", "exec", link.NSB)
	if err != nil {
		return output{}, err
	}
	r, err := loadgen.RunChat(ctx, o, loadgen.ChatOptions{Pairs: pairs, Rate: rate, Size: sizes.min, SizeMax: sizes.max}, 2, spawn)
	if err != nil {
		return output{}, err
	}
	aToB, bToA := link.Stats()
	r.Transport, r.LossPct, r.BurstLen, r.RTTMs = tr, loss, burst, float64(rttMs)
	r.BytesOnWire = aToB.Bytes + bToA.Bytes
	for _, d := range []struct {
		dir string
		st  netem.Stats
	}{{"up", bToA}, {"down", aToB}} {
		for _, c := range d.st.Sizes {
			r.WireSizes = append(r.WireSizes, loadgen.WireSize{Dir: d.dir, Max: c.Max, Packets: c.Packets, Bytes: c.Bytes})
		}
	}
	// Every body crosses the link once up (sender to edge) and once down
	// per subscriber (both sides of a 1:1 conversation).
	r.PayloadBytes = r.AckedBytes * 3
	if r.PayloadBytes > 0 {
		r.OverheadRatio = float64(r.BytesOnWire) / float64(r.PayloadBytes)
	}
	return output{r: r, json: c.json}, nil
}
