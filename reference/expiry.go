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
