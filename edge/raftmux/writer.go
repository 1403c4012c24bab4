package raftmux

import (
	"net"
	"sync"
	"time"
)

// maxSpare is the largest write buffer a frameWriter keeps for reuse (a
// snapshot frame's buffer is dropped after its write).
const maxSpare = 1 << 20

// frameWriter batches the frames of one connection: whoever sends a frame
// while no write is under way becomes the writer and writes, in one
// conn.Write, every frame queued until the queue is empty; a frame sent
// during a write is queued and left to that writer. Many concurrent
// requests (or answers) thus cost one syscall, and a lone frame is written
// at once by its sender, without a writer goroutine to wake.
type frameWriter struct {
	c       net.Conn
	timeout time.Duration // per write
	big     time.Duration // per write of more than maxSpare bytes
	linger  time.Duration // the most a lazy frame waits for company

	mu      sync.Mutex
	buf     []byte // frames queued
	spare   []byte // the last written buffer, reused
	writing bool
	timer   *time.Timer // flushes lazy frames; armed while lazy is set
	lazy    bool        // buf holds lazy frames and the timer is armed
	err     error       // sticky: the connection is broken
}

func newFrameWriter(c net.Conn, o *Options) *frameWriter {
	return &frameWriter{c: c, timeout: o.Timeout, big: max(o.Timeout, o.SnapshotTimeout), linger: o.HeartbeatLinger}
}

// sendLazy queues a frame that may wait up to the linger time for other
// frames to share its write (heartbeats and their answers, which are
// not in a hurry): the next send writes it, or a timer does. With no
// linger it is send.
func (w *frameWriter) sendLazy(kind byte, group uint32, id uint64, body []byte) error {
	if w.linger <= 0 {
		return w.send(kind, group, id, body)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.buf = appendFrame(w.buf, kind, group, id, body)
	if !w.writing && !w.lazy {
		w.lazy = true
		if w.timer == nil {
			w.timer = time.AfterFunc(w.linger, w.flush)
		} else {
			w.timer.Reset(w.linger)
		}
	}
	return nil
}

// stop ends the writer with its connection: frames still queued are
// dropped, later sends fail.
func (w *frameWriter) stop() {
	w.mu.Lock()
	if w.err == nil {
		w.err = net.ErrClosed
	}
	w.buf = nil
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
}

// flush writes the lazy frames still queued.
func (w *frameWriter) flush() {
	w.mu.Lock()
	w.lazy = false
	if w.writing || len(w.buf) == 0 || w.err != nil {
		w.mu.Unlock()
		return
	}
	w.writeLocked()
}

// send queues a frame and, if no one is writing, writes the queue until
// it is empty. It returns the connection's write error if this call met
// it (or it was met before); a frame queued behind another writer returns
// nil, and its loss shows as the connection failing (the writer closes
// it).
func (w *frameWriter) send(kind byte, group uint32, id uint64, body []byte) error {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.buf = appendFrame(w.buf, kind, group, id, body)
	if w.writing {
		w.mu.Unlock()
		return nil
	}
	return w.writeLocked()
}

// writeLocked writes the queue until it is empty; it is called with mu
// held and releases it.
func (w *frameWriter) writeLocked() error {
	w.writing = true
	for len(w.buf) > 0 && w.err == nil {
		out := w.buf
		w.buf = w.spare[:0]
		w.spare = nil
		w.mu.Unlock()
		d := w.timeout
		if len(out) > maxSpare {
			d = w.big
		}
		_ = w.c.SetWriteDeadline(time.Now().Add(d))
		_, err := w.c.Write(out)
		w.mu.Lock()
		if err != nil {
			w.err = err
			w.buf = nil
		}
		if cap(out) <= maxSpare {
			w.spare = out[:0]
		}
	}
	w.writing = false
	err := w.err
	w.mu.Unlock()
	if err != nil {
		w.c.Close()
	}
	return err
}
