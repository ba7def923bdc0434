package reference

// expiryQueue is an indexed min-heap of live sessions keyed by queueKey, a
// lower bound of each session's deadline. Access only moves a deadline
// later, so a touch never has to reorder the queue: the sweep that finds a
// session not yet due puts it back at its real deadline instead.
type expiryQueue struct {
	items []*Session
}

func (q *expiryQueue) len() int           { return len(q.items) }
func (q *expiryQueue) head() *Session     { return q.items[0] }
func (q *expiryQueue) headKey() int64     { return q.items[0].queueKey }
func (q *expiryQueue) less(i, j int) bool { return q.items[i].queueKey < q.items[j].queueKey }

func (q *expiryQueue) swap(i, j int) {
	q.items[i], q.items[j] = q.items[j], q.items[i]
	q.items[i].index = i
	q.items[j].index = j
}

func (q *expiryQueue) push(s *Session, key int64) {
	s.queueKey = key
	s.index = len(q.items)
	q.items = append(q.items, s)
	q.up(s.index)
}

// fix gives s a new key and restores the heap order.
func (q *expiryQueue) fix(s *Session, key int64) {
	s.queueKey = key
	if !q.down(s.index) {
		q.up(s.index)
	}
}

func (q *expiryQueue) remove(s *Session) {
	i := s.index
	if i < 0 {
		return
	}
	last := len(q.items) - 1
	if i != last {
		q.swap(i, last)
	}
	q.items[last] = nil
	q.items = q.items[:last]
	s.index = -1
	if i != last {
		if !q.down(i) {
			q.up(i)
		}
	}
}

func (q *expiryQueue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			return
		}
		q.swap(i, p)
		i = p
	}
}

// down sinks item i and reports whether it moved.
func (q *expiryQueue) down(i int) bool {
	start, n := i, len(q.items)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			break
		}
		q.swap(i, m)
		i = m
	}
	return i > start
}
