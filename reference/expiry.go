package reference

// expiryQueue is an indexed min-heap of live sessions keyed by a lower
// bound of each session's deadline. Access only moves a deadline later,
// so a touch never has to reorder the queue: the sweep that finds a
// session not yet due puts it back at its real deadline instead.
//
// Each entry carries its key, so sifting compares keys in the queue's own
// contiguous memory and touches a session only to record its new index.
type expiryQueue struct {
	items []queued
}

type queued struct {
	key  int64 // a lower bound of the session's deadline, in site offsets
	sess *Session
}

func (q *expiryQueue) len() int       { return len(q.items) }
func (q *expiryQueue) head() *Session { return q.items[0].sess }
func (q *expiryQueue) headKey() int64 { return q.items[0].key }

// set places e at index i and tells its session where it is.
func (q *expiryQueue) set(i int, e queued) {
	q.items[i] = e
	e.sess.index = int32(i)
}

func (q *expiryQueue) push(s *Session, key int64) {
	q.items = append(q.items, queued{})
	q.up(len(q.items)-1, queued{key, s})
}

// fixHead gives the head a later key and restores the heap order.
func (q *expiryQueue) fixHead(key int64) {
	q.down(0, queued{key, q.items[0].sess})
}

func (q *expiryQueue) remove(s *Session) {
	i := int(s.index)
	if i < 0 {
		return
	}
	s.index = -1
	last := len(q.items) - 1
	e := q.items[last]
	q.items[last] = queued{} // drop the reference for the garbage collector
	q.items = q.items[:last]
	if i != last {
		if i > 0 && e.key < q.items[(i-1)/2].key {
			q.up(i, e)
		} else {
			q.down(i, e)
		}
	}
	// Give memory back after a storm of expiries, but not so eagerly
	// that a site hovering around one size keeps reallocating.
	if c := cap(q.items); c > 1024 && len(q.items) < c/4 {
		q.items = append(make([]queued, 0, 2*len(q.items)), q.items...)
	}
}

// up places e at the hole i or above it.
func (q *expiryQueue) up(i int, e queued) {
	for i > 0 {
		p := (i - 1) / 2
		if e.key >= q.items[p].key {
			break
		}
		q.set(i, q.items[p])
		i = p
	}
	q.set(i, e)
}

// down places e at the hole i or below it.
func (q *expiryQueue) down(i int, e queued) {
	n := len(q.items)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.items[r].key < q.items[l].key {
			m = r
		}
		if q.items[m].key >= e.key {
			break
		}
		q.set(i, q.items[m])
		i = m
	}
	q.set(i, e)
}

// freshQueue holds the sessions of a capped site that have not been
// visited again since they were made, oldest first: the order a full site
// evicts them in. A session that is revisited or ends stays in the queue
// until it reaches the head (where it is skipped) or until such stale
// entries outnumber the live sessions (when they are swept out), so the
// queue never holds more than twice the live sessions, plus 1024.
type freshQueue struct {
	items []*Session
	head  int // items[:head] are gone
}

func stale(s *Session) bool { return s.expired || s.revisited }

// push adds s, made just now, to the site's live sessions.
func (q *freshQueue) push(s *Session, live int) {
	q.items = append(q.items, s)
	q.tidy(live)
}

// tidy drops the stale entries at the head and, once stale entries may
// outnumber the live sessions, all of them: each session it keeps is
// live, and it runs again only after as many pushes or endings as it
// kept, so its cost is constant per session. It keeps ended sessions
// from being held in memory by the queue.
func (q *freshQueue) tidy(live int) {
	q.trimHead()
	if len(q.items)-q.head > 2*live+1024 {
		kept := q.items[:0]
		for _, x := range q.items[q.head:] {
			if !stale(x) {
				kept = append(kept, x)
			}
		}
		clear(q.items[len(kept):])
		if c := cap(kept); c > 4096 && len(kept) < c/4 {
			kept = append(make([]*Session, 0, 2*len(kept)), kept...)
		}
		q.items, q.head = kept, 0
	}
}

// pop removes and returns the oldest session not yet visited again, or
// nil if there is none.
func (q *freshQueue) pop() *Session {
	q.trimHead()
	if q.head == len(q.items) {
		return nil
	}
	s := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	return s
}

// trimHead drops stale entries at the head, and moves the entries down or
// gives memory back when most of the slice is behind the head.
func (q *freshQueue) trimHead() {
	for q.head < len(q.items) && stale(q.items[q.head]) {
		q.items[q.head] = nil
		q.head++
	}
	if q.head < 1024 || q.head < len(q.items)/2 {
		return
	}
	n := len(q.items) - q.head
	if c := cap(q.items); c > 4096 && n < c/4 {
		q.items = append(make([]*Session, 0, 2*n), q.items[q.head:]...)
	} else {
		copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
	}
	q.head = 0
}
