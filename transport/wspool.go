package transport

import "sync"

// writePools holds one shared *sync.Pool per write buffer size (gorilla
// wants one pool per size). A *sync.Pool satisfies websocket.BufferPool.
var writePools sync.Map // int -> *sync.Pool

func writePool(size int) *sync.Pool {
	if p, ok := writePools.Load(size); ok {
		return p.(*sync.Pool)
	}
	p, _ := writePools.LoadOrStore(size, new(sync.Pool))
	return p.(*sync.Pool)
}
