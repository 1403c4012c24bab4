package raftgroup

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/edgegate/edgegate/edge/ordering"
	"github.com/edgegate/edgegate/edge/store"
)

// BenchmarkFSMApply: the cost of applying one message on a replica: an
// entry of 64 requests (200-byte bodies, 64 conversations of the group)
// decoded, sequenced, deduplicated and written to the store without fsync
// (the Raft log is the durable copy). One op is one message.
func BenchmarkFSMApply(b *testing.B) {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	f, err := newFSM(0, st, 1<<16, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), func(err error) { b.Fatal(err) })
	if err != nil {
		b.Fatal(err)
	}
	const per = 64
	body := make([]byte, 200)
	reqs := make([]ordering.Request, per)
	b.ReportAllocs()
	b.ResetTimer()
	msgs := 0
	for i := 0; msgs < b.N; i++ {
		for j := range reqs {
			reqs[j] = ordering.Request{Conv: fmt.Sprintf("conv-%d", j), Sender: "u", ClientMsgID: fmt.Sprintf("m-%d-%d", i, j), Body: body, ServerTimeMs: 1}
		}
		res := f.Apply(&raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: encodeBatch(nil, reqs)})
		if a, ok := res.(applied); !ok || len(a.results) != per {
			b.Fatalf("apply: %#v", res)
		}
		msgs += per
	}
}
