// Command edge runs an edgegate edge node.
//
// Configuration comes from, in increasing precedence: built-in defaults, a
// YAML config file (--config; keys are the flag names), EDGEGATE_* environment
// variables (flag name upper-cased, dashes as underscores, e.g.
// EDGEGATE_AUTH_HMAC_SECRET), and command-line flags. The region's Raft
// secret comes from a file (--raft-secret-file) or from
// EDGEGATE_RAFT_SECRET, never from a flag.
//
//	edge --dev                       # single node, generated secrets, demo token printed
//	edge --config /etc/edgegate.yaml
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/edgegate/edgegate/edge"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	o := defineFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := applyFileAndEnv(fs, o.configFile, os.Environ()); err != nil {
		return err
	}
	cfg, err := o.config(os.LookupEnv)
	if err != nil {
		return err
	}
	slack, err := timerSlack(o.timerSlack, len(cfg.Peers) > 1 || cfg.RaftPlacement == edge.RaftPlacementMembership)
	if err != nil {
		return err
	}
	// Before anything starts: this may re-execute the binary.
	slackErr := applyTimerSlack(slack)
	level := slog.LevelInfo
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	if o.logJSON {
		h = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(h)
	cfg.Logger = log
	if slackErr != nil {
		log.Warn("running with the kernel's timer slack", "err", slackErr)
	} else if slack > 0 {
		log.Debug("timer slack set", "slack", slack)
	}

	srv, err := edge.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		srv.Close()
		return err
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(h, slog.LevelDebug),
	}
	addr := ln.Addr().String()
	log.Info("edge listening", "addr", addr, "node", srv.NodeID(), "data", cfg.DataDir, "dev", cfg.Dev)
	if cfg.Dev {
		host := addr
		if strings.HasPrefix(host, "[::]") || strings.HasPrefix(host, "0.0.0.0") {
			host = "127.0.0.1" + host[strings.LastIndex(host, ":"):]
		}
		fmt.Printf("\nedgegate dev edge is up: http://%s/\n", host)
		fmt.Printf("  WebSocket:   ws://%s/v1/ws\n", host)
		fmt.Printf("  demo token:  %s\n", srv.DevToken())
		fmt.Printf("  HMAC secret: %s   (edgebench --secret)\n", srv.HMACSecret())
		fmt.Printf("  API key:     %s\n\n", srv.APIKey())
	}
	if o.debugAddr != "" {
		// pprof on its own listener, never on the public one.
		dmux := http.NewServeMux()
		dmux.HandleFunc("/debug/pprof/", pprof.Index)
		dmux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		dmux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		dmux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() {
			if err := http.ListenAndServe(o.debugAddr, dmux); err != nil {
				log.Error("debug listener", "err", err)
			}
		}()
	}
	qln, err := listenQUIC(o, cfg.Dev, srv.FECCounters(), log)
	if err != nil {
		srv.Close()
		ln.Close()
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if qln != nil {
		go func() {
			if err := srv.ServeQUIC(qln); err != nil {
				errc <- err
			}
		}()
		// After the drain below (sessions closed with their redirect),
		// close what is left.
		defer qln.Close()
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		log.Info("signal received, draining", "signal", s.String())
	case err := <-errc:
		srv.Close()
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout+5*time.Second)
	defer cancel()
	// Stop accepting first, then drain the sessions and close the store.
	shutErr := hs.Shutdown(ctx)
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	if shutErr != nil && !errors.Is(shutErr, context.DeadlineExceeded) {
		return shutErr
	}
	log.Info("edge stopped")
	return nil
}
