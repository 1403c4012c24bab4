package client

import "fmt"

// State is the connection state of a Client.
type State int32

// States.
const (
	// StateConnecting: the first connection is being established.
	StateConnecting State = iota
	// StateConnected: a session is established.
	StateConnected
	// StateReconnecting: the connection was lost; the client is backing
	// off or dialing again.
	StateReconnecting
	// StateClosed: Close was called or a fatal error stopped the client
	// (see Client.Err). Terminal.
	StateClosed
)

// String names the state.
func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("state(%d)", int32(s))
}
