package fec

import "github.com/klauspost/reedsolomon"

// codecs caches Reed-Solomon codecs by group shape; building one inverts a
// matrix, and most groups share one or two shapes.
type codecs map[[2]int]reedsolomon.Encoder

func (c codecs) get(k, m int) (reedsolomon.Encoder, error) {
	key := [2]int{k, m}
	if rs, ok := c[key]; ok {
		return rs, nil
	}
	rs, err := reedsolomon.New(k, m)
	if err != nil {
		return nil, err
	}
	if len(c) > 64 { // shapes come from the network; keep the cache small
		clear(c)
	}
	c[key] = rs
	return rs, nil
}

// putShard writes payload as a data shard ([length][payload][padding])
// into s, which is ShardPrefix+maxLen bytes long.
func putShard(s, payload []byte) {
	s[0] = byte(len(payload) >> 8)
	s[1] = byte(len(payload))
	n := copy(s[ShardPrefix:], payload)
	clear(s[ShardPrefix+n:])
}

// shardPayload returns the payload of a data shard, or false when the
// length prefix does not fit the shard.
func shardPayload(s []byte) ([]byte, bool) {
	if len(s) < ShardPrefix {
		return nil, false
	}
	n := int(s[0])<<8 | int(s[1])
	if n > len(s)-ShardPrefix {
		return nil, false
	}
	return s[ShardPrefix : ShardPrefix+n], true
}
