package ordering

import "errors"

// Errors returned by Orderer implementations. They may be wrapped with
// details; test with errors.Is.
var (
	// ErrClosed is returned by calls after Close and by Append requests
	// still queued when Close runs.
	ErrClosed = errors.New("ordering: closed")
	// ErrOverloaded is returned by Append when the queue is full. The
	// request was not queued; the caller may retry later.
	ErrOverloaded = errors.New("ordering: overloaded")
	// ErrInvalidRequest is returned for a request missing Conv or Sender,
	// and for bad LocalOptions.
	ErrInvalidRequest = errors.New("ordering: invalid request")
)
