package limits

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys is the key bound used when NewKeyedLimiter is given
// maxKeys <= 0.
const DefaultMaxKeys = 65536

// KeyedLimiter keeps one token bucket per key, with at most maxKeys
// buckets. It is safe for concurrent use and starts no goroutines.
//
// Memory bound. Buckets live in a map plus a recency list. On every call,
// buckets idle long enough to have refilled completely (burst/r) are
// dropped from the cold end of the list: such a bucket is identical to a
// fresh one, so dropping it changes no decision. If a new key arrives while
// maxKeys buckets are still in use, the least recently used bucket is
// evicted. Eviction was chosen over denying new keys so that a burst of
// many distinct keys (say, a botnet) cannot lock out every new client; its
// cost is that an evicted key, if it comes back, starts with a full bucket
// again. Pair it with a global cap ([Counter]) for a hard ceiling.
type KeyedLimiter struct {
	r       rate.Limit
	burst   int
	maxKeys int
	idle    time.Duration // a bucket unused this long is full again; 0: never
	now     func() time.Time

	mu      sync.Mutex
	m       map[string]*list.Element // value: *keyedEntry
	lru     list.List                // front: most recently used
	evicted uint64
}

type keyedEntry struct {
	key  string
	lim  *rate.Limiter
	last time.Time
}

// NewKeyedLimiter returns a limiter allowing r events per second per key
// with bursts of burst. maxKeys <= 0 means DefaultMaxKeys. As with
// rate.Limiter, burst <= 0 denies every event unless r is rate.Inf.
func NewKeyedLimiter(r rate.Limit, burst int, maxKeys int) *KeyedLimiter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	k := &KeyedLimiter{
		r:       r,
		burst:   burst,
		maxKeys: maxKeys,
		now:     time.Now,
		m:       make(map[string]*list.Element),
	}
	if r > 0 && r != rate.Inf {
		secs := float64(max(burst, 1)) / float64(r)
		if secs*float64(time.Second) < math.MaxInt64/2 {
			k.idle = time.Duration(math.Ceil(secs * float64(time.Second)))
		}
	}
	return k
}

// Allow reports whether one event for key may happen now, and consumes a
// token if so.
func (k *KeyedLimiter) Allow(key string) bool {
	if k.r == rate.Inf {
		return true
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sweepLocked(now)
	var e *keyedEntry
	if el, ok := k.m[key]; ok {
		e = el.Value.(*keyedEntry)
		k.lru.MoveToFront(el)
	} else {
		if len(k.m) >= k.maxKeys {
			k.evictLocked(k.lru.Back())
		}
		e = &keyedEntry{key: key, lim: rate.NewLimiter(k.r, k.burst)}
		k.m[key] = k.lru.PushFront(e)
	}
	e.last = now
	return e.lim.AllowN(now, 1)
}

// sweepLocked drops buckets that have been idle long enough to be full.
// The list is in recency order, so it stops at the first recent bucket:
// amortised O(1) per call.
func (k *KeyedLimiter) sweepLocked(now time.Time) {
	if k.idle == 0 {
		return
	}
	for el := k.lru.Back(); el != nil; el = k.lru.Back() {
		if now.Sub(el.Value.(*keyedEntry).last) < k.idle {
			return
		}
		k.lru.Remove(el)
		delete(k.m, el.Value.(*keyedEntry).key)
	}
}

func (k *KeyedLimiter) evictLocked(el *list.Element) {
	if el == nil {
		return
	}
	k.lru.Remove(el)
	delete(k.m, el.Value.(*keyedEntry).key)
	k.evicted++
}

// Len returns the number of keys currently tracked (at most maxKeys).
func (k *KeyedLimiter) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

// Evicted returns how many buckets were evicted while still in use
// because maxKeys was reached. A growing value means maxKeys is too small
// or many distinct keys are arriving.
func (k *KeyedLimiter) Evicted() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.evicted
}
