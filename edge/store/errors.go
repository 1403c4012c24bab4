package store

import "errors"

// Errors returned by the store. They may be wrapped with details; test with
// errors.Is.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store: closed")
	// ErrInvalidArgument reports a bad argument: a negative limit, a nil or
	// incomplete message handed to CommitMessages, or bad Options.
	ErrInvalidArgument = errors.New("store: invalid argument")
	// ErrSeqConflict reports a CommitMessages batch that does not continue a
	// conversation's head without a gap (or repeats/reorders seqs).
	ErrSeqConflict = errors.New("store: sequence conflict")
	// ErrCorrupt reports stored data that does not decode (bad key, bad
	// value, or a record whose conversation/seq disagree with its key).
	ErrCorrupt = errors.New("store: corrupt data")
	// ErrUnsupportedFormat reports a data directory written in a format
	// version this build does not know.
	ErrUnsupportedFormat = errors.New("store: unsupported format version")
)
