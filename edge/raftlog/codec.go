package raftlog

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/hashicorp/raft"
)

// logFormat is the first byte of an encoded entry.
const logFormat byte = 1

var errBadEntry = errors.New("malformed log entry")

// encodeLog appends l to dst:
//
//	format(1) uvarint index, uvarint term, type(1),
//	uvarint len, data, uvarint len, extensions, varint appended-at (unix ns, 0: unset)
func encodeLog(dst []byte, l *raft.Log) []byte {
	dst = append(dst, logFormat)
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = append(dst, byte(l.Type))
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	return binary.AppendVarint(dst, at)
}

// decodeLog decodes an entry encoded by encodeLog into l (Data and
// Extensions are copies).
func decodeLog(b []byte, l *raft.Log) error {
	if len(b) == 0 || b[0] != logFormat {
		return errBadEntry
	}
	b = b[1:]
	var ok bool
	if l.Index, b, ok = uvarint(b); !ok {
		return errBadEntry
	}
	if l.Term, b, ok = uvarint(b); !ok {
		return errBadEntry
	}
	if len(b) == 0 {
		return errBadEntry
	}
	l.Type, b = raft.LogType(b[0]), b[1:]
	if l.Data, b, ok = bytesField(b); !ok {
		return errBadEntry
	}
	if l.Extensions, b, ok = bytesField(b); !ok {
		return errBadEntry
	}
	at, n := binary.Varint(b)
	if n <= 0 || n != len(b) {
		return errBadEntry
	}
	l.AppendedAt = time.Time{}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	return nil
}

func uvarint(b []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, b, false
	}
	return v, b[n:], true
}

// bytesField reads a uvarint length and that many bytes (nil for 0).
func bytesField(b []byte) ([]byte, []byte, bool) {
	n, b, ok := uvarint(b)
	if !ok || n > uint64(len(b)) {
		return nil, b, false
	}
	if n == 0 {
		return nil, b, true
	}
	return append([]byte(nil), b[:n]...), b[n:], true
}
