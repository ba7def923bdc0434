package reference

import (
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// FeedLimit is how many lines the expired feed (GET /expired) retains:
// 4,194,304, four turnovers of a site at DefaultMaxSessions. A retained
// line costs about 70 bytes of heap, 32 of uid and the rest its share of
// the index (TestBytesPerFeedLine), so a full feed holds about 0.29 GB.
// Past the limit the oldest lines are dropped, a block (at most
// FeedLimit/4 lines, and at most 4,096) at a time; the count of dropped
// lines is reported with every answer.
const FeedLimit = 1 << 22

// MaxExpiredIDs bounds the ids one GET /expired?id=... may ask about.
// 200 ids of 64 hex digits make a request line of 13.6 KB, which with
// ordinary headers stays within the server's 16 KiB header limit
// (MaxHeaderBytes), so a request within this bound is answered, never cut
// off with 431.
const MaxExpiredIDs = 200

// DroppedHeader is the response header of GET /expired that counts the
// lines dropped from the start of the feed when it exceeded FeedLimit.
const DroppedHeader = "X-Sessionspec-Dropped"

const (
	feedBlockMin = 64   // lines in the feed's first block
	feedBlockMax = 4096 // and in its largest (128 KiB)
	streamBlock  = 512  // lines encoded per write of a streamed answer
	lineLen      = 2*uidBytes + 1
)

// feedBlock is a block of the expired feed: the uids of consecutive
// lines, as raw bytes. Lines are only ever added after the n already
// there, under the feed's lock, and a block is never reused, so a reader
// that has seen n under the lock can read ids[:n] without it, even after
// the block has been dropped.
type feedBlock struct {
	start uint64 // the line number of ids[0]
	n     int    // lines filled; guarded by expiryFeed.mu
	ids   [][uidBytes]byte
}

// expiryFeed is the append-only log of logged expiries behind GET
// /expired: the retained lines in blocks, and an index from uid to how
// many retained lines it has. Lines are numbered from 0 as logged; the
// feed retains lines dropped..next-1.
type expiryFeed struct {
	mu      sync.Mutex
	limit   uint64
	blocks  []*feedBlock // the retained blocks, oldest first
	next    uint64       // lines ever logged
	dropped uint64       // lines dropped: the number of the oldest retained line
	index   feedIndex
}

func newExpiryFeed(limit int) *expiryFeed {
	f := &expiryFeed{}
	f.setLimit(limit)
	f.index = feedIndex{seed: maphash.MakeSeed(), mask: ^uint64(0), byHash: make(map[uint64]uint64), feed: f}
	return f
}

func (f *expiryFeed) setLimit(limit int) {
	if limit < 1 || limit >= 1<<31 {
		panic(fmt.Sprintf("reference: feed limit %d out of range", limit))
	}
	f.limit = uint64(limit)
}

// add logs one line for id.
func (f *expiryFeed) add(id *[uidBytes]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b *feedBlock
	if len(f.blocks) > 0 {
		b = f.blocks[len(f.blocks)-1]
	}
	if b == nil || b.n == len(b.ids) {
		size := feedBlockMin
		if b != nil {
			size = 2 * len(b.ids)
		}
		size = min(size, feedBlockMax, max(int(f.limit/4), 1))
		b = &feedBlock{start: f.next, ids: make([][uidBytes]byte, size)}
		f.blocks = append(f.blocks, b)
	}
	b.ids[b.n] = *id
	b.n++
	f.index.add(id, f.next)
	f.next++
	for f.next-f.dropped > f.limit {
		f.dropHeadLocked()
	}
}

// dropHeadLocked drops the oldest block. A block is at most a quarter of
// the limit, so the feed keeps at least three quarters of it.
func (f *expiryFeed) dropHeadLocked() {
	b := f.blocks[0]
	for i := range b.n {
		f.index.remove(&b.ids[i], b.start+uint64(i))
	}
	f.dropped = b.start + uint64(b.n)
	f.blocks = slices.Delete(f.blocks, 0, 1)
}

// idAt returns the uid of retained line seq.
func (f *expiryFeed) idAt(seq uint64) *[uidBytes]byte {
	i := sort.Search(len(f.blocks), func(i int) bool { return f.blocks[i].start > seq }) - 1
	b := f.blocks[i]
	return &b.ids[seq-b.start]
}

// span returns the retained lines from seq on, at most n of them and all
// in one block, as a slice the caller may read without the lock, and the
// number of the first (seq, or the oldest retained line if seq has been
// dropped since).
func (f *expiryFeed) span(seq uint64, n int) (uint64, [][uidBytes]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seq = max(seq, f.dropped)
	if seq >= f.next {
		return seq, nil
	}
	i := sort.Search(len(f.blocks), func(i int) bool { return f.blocks[i].start > seq }) - 1
	b := f.blocks[i]
	lo := int(seq - b.start)
	return seq, b.ids[lo:min(b.n, lo+n)]
}

// state reports the lines dropped and logged so far.
func (f *expiryFeed) state() (dropped, next uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped, f.next
}

// count reports how many retained lines are for id.
func (f *expiryFeed) count(id *[uidBytes]byte) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int(f.index.count(id))
}

// feedIndex counts the retained lines of each uid. Like uidIndex it is
// keyed by a 64-bit seeded hash of the uid, not the uid itself, which
// halves its size, and stays exact: each entry also holds the number of
// the uid's newest line (modulo 2^32, enough as the feed retains fewer
// than 2^31 lines), so the uid it counts is read from the feed itself,
// and a uid whose hash another uid holds is counted in an exact map
// instead, as in uidIndex.
//
// An entry is packed as newest<<32 | count. Invariant: a uid with retained
// lines has an entry whose newest line is retained; one without has none.
type feedIndex struct {
	seed     maphash.Seed
	mask     uint64 // all ones; a test clears bits to force collisions
	byHash   map[uint64]uint64
	overflow map[[uidBytes]byte]uint64
	feed     *expiryFeed
}

func pack(seq uint64, n uint32) uint64 { return seq<<32 | uint64(n) }

func (x *feedIndex) hash(id *[uidBytes]byte) uint64 { return maphash.Bytes(x.seed, id[:]) & x.mask }

// newest returns the full number of the newest line of entry v.
func (x *feedIndex) newest(v uint64) uint64 {
	last := x.feed.next - 1 // a line is retained, so next > 0
	return last - uint64(uint32(last)-uint32(v>>32))
}

func (x *feedIndex) holds(v uint64, id *[uidBytes]byte) bool {
	return *x.feed.idAt(x.newest(v)) == *id
}

func (x *feedIndex) add(id *[uidBytes]byte, seq uint64) {
	h := x.hash(id)
	v, ok := x.byHash[h]
	switch {
	case !ok:
		x.byHash[h] = pack(seq, 1)
	case x.holds(v, id):
		x.byHash[h] = pack(seq, uint32(v)+1)
	default:
		if x.overflow == nil {
			x.overflow = make(map[[uidBytes]byte]uint64)
		}
		x.overflow[*id] = pack(seq, uint32(x.overflow[*id])+1)
	}
}

// remove uncounts line seq, the oldest retained line, which is for id.
func (x *feedIndex) remove(id *[uidBytes]byte, seq uint64) {
	h := x.hash(id)
	if v, ok := x.byHash[h]; ok && x.holds(v, id) {
		if uint32(v) > 1 {
			x.byHash[h] = v - 1
			return
		}
		delete(x.byHash, h)
		// Keep the invariant: a uid waiting for this hash takes it.
		for oid, ov := range x.overflow {
			if x.hash(&oid) == h {
				x.byHash[h] = ov
				delete(x.overflow, oid)
				break
			}
		}
		return
	}
	if v := x.overflow[*id]; uint32(v) > 1 {
		x.overflow[*id] = v - 1
	} else {
		delete(x.overflow, *id)
	}
}

func (x *feedIndex) count(id *[uidBytes]byte) uint32 {
	if v, ok := x.byHash[x.hash(id)]; ok && x.holds(v, id) {
		return uint32(v)
	}
	if len(x.overflow) > 0 {
		return uint32(x.overflow[*id])
	}
	return 0
}

// streamBuffers recycle the buffers answers are encoded in, so that each
// reader of the feed costs one buffer while it writes, however long the
// feed and however many the readers.
var streamBuffers = sync.Pool{New: func() any { return new([streamBlock * lineLen]byte) }}

// parseExpiredQuery reads the query of GET /expired: nothing, or up to
// MaxExpiredIDs id parameters, each a uid as the site issues them. It
// returns the distinct ids in the order asked (nil for the whole feed),
// or a one-line reason.
func parseExpiredQuery(raw string) ([][uidBytes]byte, error) {
	if raw == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("malformed query: %s", short(err.Error()))
	}
	for k := range q {
		if k != "id" {
			return nil, fmt.Errorf("unknown parameter %q: GET /expired takes only id=<uid>, up to %d times", short(k), MaxExpiredIDs)
		}
	}
	vals := q["id"]
	if len(vals) > MaxExpiredIDs {
		return nil, fmt.Errorf("%d ids asked; at most %d per request", len(vals), MaxExpiredIDs)
	}
	ids := make([][uidBytes]byte, 0, len(vals))
	for _, v := range vals {
		id, ok := parseUID(v)
		if !ok {
			return nil, fmt.Errorf("id=%q is not a session uid (64 lowercase hex digits)", short(v))
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// short quotes at most 40 bytes of s, on one line, for an error message.
func short(s string) string {
	if len(s) > 40 {
		s = s[:40]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// serveExpired answers GET /expired: the whole feed, streamed, or the
// lines of the ids asked for. See the package documentation.
func (srv *Server) serveExpired(w http.ResponseWriter, r *http.Request) {
	ids, err := parseExpiredQuery(r.URL.RawQuery)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f := srv.feed
	dropped, end := f.state()
	setTextHeaders(w)
	w.Header().Set(DroppedHeader, strconv.FormatUint(dropped, 10))
	if r.Method == http.MethodHead {
		return
	}
	buf := streamBuffers.Get().(*[streamBlock * lineLen]byte)
	defer streamBuffers.Put(buf)
	out := &blockWriter{w: w, rc: http.NewResponseController(w), buf: buf[:0]}
	if ids != nil {
		for i := range ids {
			for range f.count(&ids[i]) {
				out.line(&ids[i])
			}
		}
		out.flush()
		return
	}
	if dropped > 0 {
		fmt.Fprintf(out, "# dropped %d older lines\n", dropped)
	}
	// The lines logged before the request, from the oldest retained; a
	// slow reader that the dropping overtakes is told what it missed.
	for seq := dropped; seq < end && out.err == nil; {
		from, span := f.span(seq, streamBlock)
		if from > seq {
			fmt.Fprintf(out, "# dropped %d more lines while this answer was sent\n", min(from, end)-seq)
		}
		if from >= end {
			break
		}
		span = span[:min(uint64(len(span)), end-from)]
		for i := range span {
			out.line(&span[i])
		}
		seq = from + uint64(len(span))
		out.flush()
	}
	out.flush()
}

// blockWriter encodes feed lines into one buffer and writes it out whole,
// giving each write a fresh deadline, so that a long feed is not cut off
// by the server's WriteTimeout while its reader keeps reading.
type blockWriter struct {
	w   io.Writer
	rc  *http.ResponseController
	buf []byte
	err error
}

func (b *blockWriter) line(id *[uidBytes]byte) {
	if len(b.buf)+lineLen > cap(b.buf) {
		b.flush()
	}
	n := len(b.buf)
	b.buf = b.buf[:n+lineLen]
	hex.Encode(b.buf[n:], id[:])
	b.buf[n+lineLen-1] = '\n'
}

// Write adds a comment line.
func (b *blockWriter) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) > cap(b.buf) {
		b.flush()
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *blockWriter) flush() {
	if len(b.buf) == 0 || b.err != nil {
		b.buf = b.buf[:0]
		return
	}
	b.rc.SetWriteDeadline(time.Now().Add(WriteTimeout)) // not every ResponseWriter can: then the server's own bound stands
	_, b.err = b.w.Write(b.buf)
	b.buf = b.buf[:0]
}
