package raftgroup

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/edgegate/edgegate/edge/ordering"
)

// cmdFormat is the first byte of a batch command (a Raft log entry).
const cmdFormat byte = 1

// errBadCommand reports a log entry that is not a batch this version
// understands. Every replica sees the same bytes, so every replica
// answers it the same way (each request of the entry fails).
var errBadCommand = errors.New("raftgroup: malformed batch command")

// encodeBatch appends the command of one log entry: the leader's batch of
// requests, many conversations of the group in one entry.
//
//	format(1) uvarint n, n x (string conv, string sender, string device,
//	string client_msg_id, bytes body, varint server_time_ms)
//
// strings and bytes are uvarint length + bytes. ServerTimeMs is always set
// by the leader (the state machine must not read a clock).
func encodeBatch(dst []byte, reqs []ordering.Request) []byte {
	dst = append(dst, cmdFormat)
	dst = binary.AppendUvarint(dst, uint64(len(reqs)))
	for i := range reqs {
		r := &reqs[i]
		for _, s := range [...]string{r.Conv, r.Sender, r.SenderDevice, r.ClientMsgID} {
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		}
		dst = binary.AppendUvarint(dst, uint64(len(r.Body)))
		dst = append(dst, r.Body...)
		dst = binary.AppendVarint(dst, r.ServerTimeMs)
	}
	return dst
}

// decodeBatch decodes a command. Bodies alias b.
func decodeBatch(b []byte) ([]ordering.Request, error) {
	if len(b) == 0 || b[0] != cmdFormat {
		return nil, errBadCommand
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	// Each request takes at least 6 bytes: n beyond that is a lie.
	if k <= 0 || n > uint64(len(b))/6+1 || n > math.MaxInt32 {
		return nil, errBadCommand
	}
	b = b[k:]
	reqs := make([]ordering.Request, n)
	for i := range reqs {
		var f [5][]byte
		for j := range f {
			l, k := binary.Uvarint(b)
			if k <= 0 || l > uint64(len(b)-k) {
				return nil, errBadCommand
			}
			f[j], b = b[k:k+int(l)], b[k+int(l):]
		}
		ts, k := binary.Varint(b)
		if k <= 0 {
			return nil, errBadCommand
		}
		b = b[k:]
		reqs[i] = ordering.Request{Conv: string(f[0]), Sender: string(f[1]), SenderDevice: string(f[2]),
			ClientMsgID: string(f[3]), Body: f[4], ServerTimeMs: ts}
		if len(f[4]) == 0 {
			reqs[i].Body = nil
		}
	}
	if len(b) != 0 {
		return nil, errBadCommand
	}
	return reqs, nil
}
