package nodelink

import (
	"errors"
	"net"
)

var (
	// ErrNotConnected: the peer has no link up now (unknown, dialing, or
	// the link just went down). Control sends fail with it; live sends
	// are dropped and counted instead.
	ErrNotConnected = errors.New("nodelink: no link to the peer")
	// ErrLinkDown: the link went down before a request got its reply.
	ErrLinkDown = errors.New("nodelink: the link went down before the reply")
	// ErrClosed: the Link is closed. It unwraps to net.ErrClosed.
	ErrClosed = closedError{}
)

// RemoteError is a request's failure as the peer's handler reported it.
type RemoteError struct {
	// Peer is the node that answered, Message its handler's error text.
	Peer, Message string
}

func (e *RemoteError) Error() string { return "nodelink: " + e.Peer + ": " + e.Message }

type closedError struct{}

func (closedError) Error() string { return "nodelink: closed" }
func (closedError) Unwrap() error { return net.ErrClosed }
