package reference

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sessionspec/sessionspec/contract"
)

// Components are the objects stored on a session, each under a key, as
// Nevow stores them under an interface ("set a component on the session
// using an interface unique to your" application). A key is any
// comparable value; an application that gives its keys a type of its own,
// unexported,
//
//	type userManagerKey struct{}
//
// has components no other application can name, however many share the
// session. A key whose type is not comparable panics, as it would as a
// map key. The methods are safe for concurrent use.
//
// A component lives exactly as long as its session: when the session
// ends (Expire, timeout or eviction) the session lets go of every
// component and every expiry callback, so they become unreachable through
// it even while something still holds the *Session; and a component
// stored on an ended session is not kept (the call answers as it would,
// but nothing is stored).

// NoComponentError is what GetComponent returns for a key with nothing
// stored under it and no adapter: Nevow's failed adaptation.
type NoComponentError struct {
	Key any
}

func (e *NoComponentError) Error() string {
	return fmt.Sprintf("reference: the session has no component for key %#v (%T)", e.Key, e.Key)
}

// GetComponent returns the component stored under key (IUserManager(session)).
// With nothing stored, a site adapter for the key's type (see
// RegisterAdapter) makes one, which is stored and returned; without one,
// the error is a *NoComponentError naming the key.
func (s *Session) GetComponent(key any) (any, error) {
	checkKey(key)
	if v, ok := s.lookupComponent(key); ok {
		return v, nil
	}
	if v, ok := s.adapt(key); ok {
		return v, nil
	}
	return nil, &NoComponentError{Key: key}
}

// ComponentOr returns the component stored under key, else what the
// key's adapter makes (and stores), else def, which is not stored
// (IUserManager(session, default)).
func (s *Session) ComponentOr(key, def any) any {
	checkKey(key)
	if v, ok := s.lookupComponent(key); ok {
		return v
	}
	if v, ok := s.adapt(key); ok {
		return v
	}
	return def
}

// Component returns the object stored on the session under key, first
// storing create() there if there is none: an adapter given at the call
// rather than registered on the site. create runs with no lock held, at
// most once while its result stays stored; callers that ask meanwhile
// wait for it and get the same object. (A create that asks for its own
// key waits for ever, as a sync.Once would.)
func (s *Session) Component(key any, create func() any) any {
	checkKey(key)
	v, _ := s.ext().obtain(key, create)
	return v
}

// component is Component, also reporting whether create was called.
func (s *Session) component(key any, create func() any) (v any, created bool) {
	return s.ext().obtain(key, create)
}

// SetComponent stores v on the session under key, replacing what was
// there (an adapter's object too), as Twisted's setComponent does. On an
// ended session it stores nothing.
func (s *Session) SetComponent(key, v any) {
	checkKey(key)
	e := s.ext()
	e.compMu.Lock()
	defer e.compMu.Unlock()
	e.storeLocked(key, v)
}

// UnsetComponent removes what is stored under key, as Twisted's
// unsetComponent does; the key's adapter, if any, makes a new object on
// the next use.
func (s *Session) UnsetComponent(key any) {
	checkKey(key)
	e := s.extra.Load()
	if e == nil {
		return
	}
	e.compMu.Lock()
	defer e.compMu.Unlock()
	e.deleteLocked(key)
}

// RegisterAdapter makes construct the adapter of the keys of type K on the
// site's sessions, as Nevow's registerAdapter does for an interface: the
// first GetComponent or ComponentOr of such a key on a session that has
// nothing stored under it calls construct, stores the object ("constructed and
// set on the session for you automatically") and returns it; later calls
// return the same object until the session ends, or the component is set
// or unset. A key type with a single value (struct{}) has one adapter
// object per session; a type with a field (an application's name, say)
// has one per value. construct runs as Component's create does: with no
// lock held, once. A nil construct removes K's adapter. K must not be an interface
// type (a key's type is its dynamic type).
func RegisterAdapter[K comparable](site *Site, construct func(s *Session, key K) any) {
	t := reflect.TypeFor[K]()
	if t.Kind() == reflect.Interface {
		panic("reference.RegisterAdapter: the key type " + t.String() + " is an interface; give the keys a concrete type")
	}
	if construct == nil {
		site.adapters.Delete(t)
		return
	}
	site.adapters.Store(t, adapter(func(s *Session, key any) any { return construct(s, key.(K)) }))
}

// adapter is a registered adapter, its key asserted back to K.
type adapter func(s *Session, key any) any

// adapt makes the key's adapter object on s, or reports that the key's
// type has none.
func (s *Session) adapt(key any) (any, bool) {
	if key == nil {
		return nil, false
	}
	a, ok := s.site.adapters.Load(reflect.TypeOf(key))
	if !ok {
		return nil, false
	}
	construct := a.(adapter)
	v, _ := s.ext().obtain(key, func() any { return construct(s, key) })
	return v, true
}

// lookupComponent returns what is stored under key, without making
// anything.
func (s *Session) lookupComponent(key any) (any, bool) {
	e := s.extra.Load()
	if e == nil {
		return nil, false
	}
	return e.lookup(key)
}

// checkKey panics on a key that cannot be compared, before any lock is
// taken.
func checkKey(key any) {
	if key != nil && !reflect.TypeOf(key).Comparable() {
		panic(fmt.Sprintf("reference: component key of type %T is not comparable", key))
	}
}

// endedMark in the inline key slot marks the record of an ended session:
// nothing is stored on it any more. Its type is unexported, so no caller
// can ask for it.
type endedMark struct{}

// endedExtra is the record every ended session points at (Site.removeLocked
// swaps it in): holding nothing, keeping nothing. Its callbacks are never
// set, since notifyOnExpire runs a callback for an ended session at once.
var endedExtra = &sessionExtra{key0: endedMark{}}

func (e *sessionExtra) endedLocked() bool { return e.key0 == any(endedMark{}) }

// making stands in the components for an object being made, so that its
// constructor runs with no lock held (it may use the session, its
// callbacks and its other components) and only once: those who ask
// meanwhile wait on mu, which the constructor holds until it is done.
type making struct {
	mu sync.Mutex
	v  any
	ok bool // the constructor returned; false: it panicked, and nothing was stored
}

func (m *making) wait() (any, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v, m.ok
}

// lookup returns what is stored under key, waiting for an object being
// made.
func (e *sessionExtra) lookup(key any) (any, bool) {
	for {
		v, ok := e.peek(key)
		if !ok {
			return nil, false
		}
		m, isMaking := v.(*making)
		if !isMaking {
			return v, true
		}
		if v, ok := m.wait(); ok {
			return v, true
		}
		// Its constructor panicked and took the placeholder back: look again.
	}
}

func (e *sessionExtra) peek(key any) (any, bool) {
	e.compMu.Lock()
	defer e.compMu.Unlock()
	return e.lookupLocked(key)
}

// What claim found under a key.
const (
	claimFound = iota // an object
	claimWait         // an object being made by someone else
	claimMake         // nothing: the caller makes it, its placeholder is stored
	claimEnded        // nothing, and the session has ended
)

func (e *sessionExtra) claim(key any) (v any, m *making, c int) {
	e.compMu.Lock()
	defer e.compMu.Unlock()
	if v, ok := e.lookupLocked(key); ok {
		if m, isMaking := v.(*making); isMaking {
			return nil, m, claimWait
		}
		return v, nil, claimFound
	}
	if e.endedLocked() {
		return nil, nil, claimEnded
	}
	m = new(making)
	m.mu.Lock()
	e.storeLocked(key, m)
	return nil, m, claimMake
}

// obtain returns the object under key, making it with create if there is
// none, and reports whether this call made it.
func (e *sessionExtra) obtain(key any, create func() any) (any, bool) {
	for {
		v, m, c := e.claim(key)
		switch c {
		case claimFound:
			return v, false
		case claimEnded:
			return create(), true // made for the caller, not kept
		case claimMake:
			return e.build(key, m, create), true
		}
		if v, ok := m.wait(); ok {
			return v, false
		}
	}
}

// build runs create for the placeholder m and stores its object in m's
// place, unless the key was set, unset or dropped meanwhile (the session
// ended): then the caller gets the object and nothing is stored.
func (e *sessionExtra) build(key any, m *making, create func() any) any {
	defer func() {
		e.compMu.Lock()
		if cur, ok := e.lookupLocked(key); ok && cur == any(m) {
			if m.ok {
				e.storeLocked(key, m.v)
			} else {
				e.deleteLocked(key)
			}
		}
		e.compMu.Unlock()
		m.mu.Unlock()
	}()
	m.v = create()
	m.ok = true
	return m.v
}

func (e *sessionExtra) lookupLocked(key any) (any, bool) {
	if e.key0 != nil && e.key0 == key {
		return e.val0, true
	}
	v, ok := e.more[key]
	return v, ok
}

func (e *sessionExtra) storeLocked(key, v any) {
	switch {
	case e.endedLocked():
		// The session has ended: nothing is kept.
	case e.key0 != nil && e.key0 == key:
		e.val0 = v
	case key != nil && e.key0 == nil && !e.inMore(key):
		// The first key is kept inline (a nil key, which cannot be told
		// from "none" there, goes to the map).
		e.key0, e.val0 = key, v
	default:
		if e.more == nil {
			e.more = make(map[any]any)
		}
		e.more[key] = v
	}
}

func (e *sessionExtra) inMore(key any) bool {
	_, ok := e.more[key]
	return ok
}

func (e *sessionExtra) deleteLocked(key any) {
	if e.endedLocked() {
		return
	}
	if e.key0 != nil && e.key0 == key {
		e.key0, e.val0 = nil, nil
		return
	}
	delete(e.more, key)
}

// dropComponents forgets every stored object, and stores none from now
// on: the session has ended.
func (e *sessionExtra) dropComponents() {
	e.compMu.Lock()
	e.key0, e.val0, e.more = endedMark{}, nil, nil
	e.compMu.Unlock()
}

// The components resource: Nevow's components over HTTP, for the suite's
// COMPONENT cases (GET only; see the package documentation).
//
// An application's components are stored under appKey{app, key}, its
// adapter's object under appAdapterKey{app}: types of this resource's
// own, so the applications' keys, and the resource's, never meet one
// another's or the other resources' (the counter's counterKey).
type (
	appKey        struct{ app, key string }
	appAdapterKey struct{ app string }
	bookKey       struct{}
)

// Bounds of the components resource: per session at most MaxComponentApps
// applications, each with at most MaxComponentKeys components besides its
// adapter's object; names of at most MaxComponentName bytes, values of at
// most MaxComponentValue; and, over every session of the process, at most
// ComponentBudget bytes (names, values and a fixed 128 bytes per
// component), given back when a session ends. Past a bound a request that
// would store something new gets 507 and stores nothing.
const (
	MaxComponentApps  = 8
	MaxComponentKeys  = 8
	MaxComponentName  = 32
	MaxComponentValue = 128
	ComponentBudget   = 64 << 20
	componentOverhead = 128
	adapterKeyName    = "adapter"
)

// componentBytes is what the components resource stores, in all.
var componentBytes atomic.Int64

// book is the components resource's account of one session: the
// applications and keys it stored, and their bytes.
type book struct {
	mu    sync.Mutex
	apps  map[string]int // per application: its components, the adapter's object aside
	bytes int64
	ended bool // the session ended and its bytes were given back
}

// charge counts n more bytes, within the process-wide budget.
func (b *book) charge(n int64) bool {
	if componentBytes.Add(n) > ComponentBudget {
		componentBytes.Add(-n)
		return false
	}
	b.bytes += n
	return true
}

// release gives the session's bytes back; the session has ended.
func (b *book) release(*Session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	componentBytes.Add(-b.bytes)
	b.bytes, b.ended = 0, true
}

// componentsPath is the components resource's path in the discovery
// document.
func (srv *Server) componentsPath() string { return contract.PathComponents }

// componentQuery is a request of the components resource.
type componentQuery struct {
	app, key  string
	def, set  string
	hasDef    bool
	hasSet    bool
	isAdapter bool // key is "adapter": the application's adapter object
}

// parseComponentQuery checks the query: app and key, at most one of
// default and set, nothing else, each once.
func parseComponentQuery(raw string) (componentQuery, string) {
	var q componentQuery
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, "the query is not valid: " + err.Error()
	}
	for name, vs := range vals {
		switch name {
		case "app", "key", "default", "set":
		default:
			return q, fmt.Sprintf("unknown parameter %q; the parameters are app, key, and default or set", excerptName(name))
		}
		if len(vs) != 1 {
			return q, fmt.Sprintf("parameter %q given %d times", name, len(vs))
		}
	}
	q.app, q.key = vals.Get("app"), vals.Get("key")
	for _, n := range []struct{ what, v string }{{"app", q.app}, {"key", q.key}} {
		if !validComponentName(n.v) {
			return q, fmt.Sprintf("%s must be 1 to %d of the characters A-Z a-z 0-9 . _ ~ -", n.what, MaxComponentName)
		}
	}
	q.isAdapter = q.key == adapterKeyName
	q.def, q.hasDef = vals.Get("default"), vals.Has("default")
	q.set, q.hasSet = vals.Get("set"), vals.Has("set")
	switch {
	case q.hasDef && q.hasSet:
		return q, "give default or set, not both"
	case q.hasDef && !validComponentValue(q.def):
		return q, fmt.Sprintf("default must be printable UTF-8 of at most %d bytes", MaxComponentValue)
	case q.hasSet && !validComponentValue(q.set):
		return q, fmt.Sprintf("set must be printable UTF-8 of at most %d bytes", MaxComponentValue)
	}
	return q, ""
}

func validComponentName(s string) bool {
	if s == "" || len(s) > MaxComponentName {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '~', c == '-':
		default:
			return false
		}
	}
	return true
}

func validComponentValue(s string) bool {
	if len(s) > MaxComponentValue || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

func excerptName(s string) string {
	if len(s) > MaxComponentName {
		return s[:MaxComponentName] + "..."
	}
	return s
}

// serveComponents serves the components resource (see the package
// documentation for the protocol).
func (srv *Server) serveComponents(w http.ResponseWriter, r *http.Request) {
	q, bad := parseComponentQuery(r.URL.RawQuery)
	if bad != "" {
		setTextHeaders(w)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintln(w, bad)
		return
	}
	srv.registerComponentAdapter()
	sess, ok := srv.session(w, r)
	if !ok {
		return
	}
	bk, made := sess.component(bookKey{}, func() any { return &book{apps: map[string]int{}} })
	b := bk.(*book)
	if made {
		sess.notifyOnExpire(b.release)
	}
	var key any = appKey{q.app, q.key}
	if q.isAdapter {
		key = appAdapterKey{q.app}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// Only a set or the adapter's first use stores something new; it must
	// fit the session's bounds.
	old, stored := sess.lookupComponent(key)
	_, knownApp := b.apps[q.app]
	if !stored && (q.hasSet || q.isAdapter) && !b.ended {
		switch {
		case !knownApp && len(b.apps) >= MaxComponentApps:
			full(w, fmt.Sprintf("the session holds components of %d applications, the most it keeps", MaxComponentApps))
			return
		case !q.isAdapter && b.apps[q.app] >= MaxComponentKeys:
			full(w, fmt.Sprintf("application %s holds %d components on this session, the most it keeps", q.app, MaxComponentKeys))
			return
		}
	}
	// counted records a new component of the application.
	counted := func() {
		if !knownApp {
			b.apps[q.app] = 0
		}
		if !q.isAdapter {
			b.apps[q.app]++
		}
	}
	var value string
	switch {
	case q.hasSet:
		size := int64(len(q.set))
		if !stored {
			size += componentOverhead + int64(len(q.app)+len(q.key))
		} else if s, isString := old.(string); isString {
			size -= int64(len(s))
		}
		if !b.ended && !b.charge(size) {
			full(w, "the components resource holds as many bytes as it keeps, over every session; try again when sessions have ended")
			return
		}
		sess.SetComponent(key, q.set)
		if !stored && !b.ended {
			counted()
		}
		value = q.set
	case q.isAdapter:
		if !stored && !b.ended {
			if !b.charge(componentOverhead + int64(len(q.app)+len(q.key)+adapterValueSize)) {
				full(w, "the components resource holds as many bytes as it keeps, over every session; try again when sessions have ended")
				return
			}
			counted()
		}
		v, _ := sess.GetComponent(key) // it has an adapter: never an error
		value = v.(string)
	case q.hasDef:
		value = sess.ComponentOr(key, q.def).(string)
	default:
		v, err := sess.GetComponent(key)
		if err != nil {
			setTextHeaders(w)
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, "unset: application %s has no component %s on this session\n", q.app, q.key)
			return
		}
		value = v.(string)
	}
	writeText(w, value)
}

func full(w http.ResponseWriter, why string) {
	setTextHeaders(w)
	w.WriteHeader(http.StatusInsufficientStorage)
	fmt.Fprintln(w, why)
}

// adapterValueSize is the length of an adapter's object: "instance", 16
// hex digits, "made at" and a time in RFC 3339 with nanoseconds.
const adapterValueSize = len("instance 0123456789abcdef made at 2006-01-02T15:04:05.999999999Z")

// registerComponentAdapter registers the resource's adapter on the site,
// once: each application's adapter object is a string naming a random
// instance and when, on the site's clock, it was made.
func (srv *Server) registerComponentAdapter() {
	if _, ok := srv.site.adapters.Load(reflect.TypeFor[appAdapterKey]()); ok {
		return
	}
	clock := srv.site.Clock()
	RegisterAdapter(srv.site, func(*Session, appAdapterKey) any {
		var id [8]byte
		rand.Read(id[:])
		return "instance " + hex.EncodeToString(id[:]) + " made at " + clock.Now().UTC().Format(time.RFC3339Nano)
	})
}
