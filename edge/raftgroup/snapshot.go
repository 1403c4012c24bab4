package raftgroup

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/edge/store"
	"github.com/edgegate/edgegate/transport/pb"
)

// A group snapshot is
//
//	"EGS1" uvarint applied-index, then per message: uvarint length,
//	pb.Message (protobuf); a length of 0 ends it.
//
// Messages come conversation by conversation in seq order, so a restore
// writes them with the store's gap checks.
const snapshotMagic = "EGS1"

// maxSnapshotMessage bounds one message in a snapshot (bodies are limited
// far below this at the edge).
const maxSnapshotMessage = 16 << 20

// restoreChunk is how many messages a restore writes per batch.
const restoreChunk = 1000

var errBadSnapshot = errors.New("raftgroup: malformed snapshot")

// snapshot is a group's state at one point in time.
type snapshot struct{ v *store.GroupView }

// Persist implements raft.FSMSnapshot.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(sink, s.v); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *snapshot) Release() { _ = s.v.Close() }

// writeSnapshot streams view to w.
func writeSnapshot(w io.Writer, v *store.GroupView) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	index, err := v.Applied()
	if err != nil {
		return err
	}
	buf := binary.AppendUvarint([]byte(snapshotMagic), index)
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	err = v.Convs(func(conv string) error {
		return v.Messages(conv, func(m *pb.Message) error {
			b, err := proto.Marshal(m)
			if err != nil {
				return err
			}
			buf = binary.AppendUvarint(buf[:0], uint64(len(b)))
			if _, err := bw.Write(buf); err != nil {
				return err
			}
			_, err = bw.Write(b)
			return err
		})
	})
	if err != nil {
		return err
	}
	if err := bw.WriteByte(0); err != nil {
		return err
	}
	return bw.Flush()
}

// readSnapshot reads a snapshot, handing its messages to write in chunks
// (each with the snapshot's index), and returns the index.
func readSnapshot(r io.Reader, write func(index uint64, msgs []*pb.Message) error) (uint64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		return 0, errBadSnapshot
	}
	index, err := binary.ReadUvarint(br)
	if err != nil {
		return 0, errBadSnapshot
	}
	var chunk []*pb.Message
	for {
		n, err := binary.ReadUvarint(br)
		if err != nil || n > maxSnapshotMessage {
			return 0, errBadSnapshot
		}
		if n == 0 {
			break
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return 0, errBadSnapshot
		}
		m := new(pb.Message)
		if err := proto.Unmarshal(b, m); err != nil {
			return 0, fmt.Errorf("%w: %v", errBadSnapshot, err)
		}
		chunk = append(chunk, m)
		if len(chunk) == restoreChunk {
			if err := write(index, chunk); err != nil {
				return 0, err
			}
			chunk = nil
		}
	}
	if len(chunk) > 0 {
		if err := write(index, chunk); err != nil {
			return 0, err
		}
	}
	return index, nil
}

// StateHash is a hash of a group's replicated state on this node (applied
// index and every message), for comparing replicas.
func StateHash(st *store.Store, group uint32) (applied, hash uint64, err error) {
	v, err := st.ViewGroup(group)
	if err != nil {
		return 0, 0, err
	}
	defer v.Close()
	h := fnv.New64a()
	if err := writeSnapshot(h, v); err != nil {
		return 0, 0, err
	}
	applied, err = v.Applied()
	return applied, h.Sum64(), err
}
