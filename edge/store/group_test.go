package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/edgegate/edgegate/transport/pb"
)

func groupMsg(conv string, seq uint64) *pb.Message {
	return &pb.Message{Conversation: conv, Seq: seq, Sender: "u", ClientMsgId: fmt.Sprintf("%s-%d", conv, seq), Body: []byte("b")}
}

// TestApplyGroupViewReset: ApplyGroup records messages, membership and the
// applied index together; a view keeps its point in time while the group
// goes on; ResetGroup removes exactly the group's conversations.
func TestApplyGroupViewReset(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	if err := s.ApplyGroup(1, 5, []*pb.Message{groupMsg("a", 1), groupMsg("b", 1), groupMsg("a", 2)}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyGroup(2, 9, []*pb.Message{groupMsg("z", 1)}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyGroup(^uint32(0), 1, []*pb.Message{groupMsg("last", 1)}, false); err != nil {
		t.Fatal(err)
	}
	v, err := s.ViewGroup(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyGroup(1, 6, []*pb.Message{groupMsg("a", 3), groupMsg("c", 1)}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyGroup(1, 7, []*pb.Message{groupMsg("a", 5)}, true); !errors.Is(err, ErrSeqConflict) {
		t.Fatalf("a gap was accepted: %v", err)
	}
	if got, _ := s.GroupApplied(1); got != 6 {
		t.Fatalf("applied %d after a refused batch, want 6", got)
	}
	applied, _ := v.Applied()
	var convs []string
	msgs := 0
	if err := v.Convs(func(c string) error {
		convs = append(convs, c)
		return v.Messages(c, func(*pb.Message) error { msgs++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	v.Close()
	if applied != 5 || fmt.Sprint(convs) != "[a b]" || msgs != 3 {
		t.Fatalf("view: applied %d, convs %v, %d messages; want 5 [a b] 3", applied, convs, msgs)
	}
	if err := s.ResetGroup(1); err != nil {
		t.Fatal(err)
	}
	for _, conv := range []string{"a", "b", "c"} {
		if h, _ := s.Head(conv); h != 0 {
			t.Fatalf("%s head %d after reset", conv, h)
		}
		if _, ok, _ := s.Dedup(conv, "u", conv+"-1"); ok {
			t.Fatalf("%s dedup entry survived the reset", conv)
		}
	}
	if got, _ := s.GroupApplied(1); got != 0 {
		t.Fatalf("applied %d after reset", got)
	}
	if h, _ := s.Head("z"); h != 1 {
		t.Fatal("another group's conversation was reset")
	}
	if h, _ := s.Head("last"); h != 1 {
		t.Fatal("the highest group id's conversation was reset")
	}
	if err := s.ApplyGroup(1, 10, []*pb.Message{groupMsg("a", 1)}, true); err != nil {
		t.Fatalf("a reset conversation starts again at 1: %v", err)
	}
}
