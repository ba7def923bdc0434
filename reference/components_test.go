package reference_test

import (
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/reference"
)

// Two applications' keys: each its own type, as Nevow's interfaces are.
type (
	shopKey  string
	forumKey string
	cartKey  struct{}
)

// "set a component on the session using an interface unique to your"
// application: the same name under two applications' key types is two
// components.
func TestComponentsOfTwoApplicationsNeverMeet(t *testing.T) {
	site, _ := newSite(t, reference.Config{})
	s := mustMake(t, site)
	s.SetComponent(shopKey("user"), "shop's user")
	if _, err := s.GetComponent(forumKey("user")); err == nil {
		t.Fatal("the forum sees a component the shop set")
	}
	s.SetComponent(forumKey("user"), "forum's user")
	if v, _ := s.GetComponent(shopKey("user")); v != "shop's user" {
		t.Fatalf("shop's user = %v", v)
	}
	if v, _ := s.GetComponent(forumKey("user")); v != "forum's user" {
		t.Fatalf("forum's user = %v", v)
	}
	// Many keys (past the inline slot), nil among them.
	for i := range 20 {
		s.SetComponent(shopKey(fmt.Sprint(i)), i)
	}
	s.SetComponent(nil, "nil key")
	for i := range 20 {
		if v, _ := s.GetComponent(shopKey(fmt.Sprint(i))); v != i {
			t.Fatalf("key %d = %v", i, v)
		}
	}
	if v, _ := s.GetComponent(nil); v != "nil key" {
		t.Fatalf("nil key = %v", v)
	}
	other := mustMake(t, site)
	if _, err := other.GetComponent(shopKey("user")); err == nil {
		t.Fatal("another session sees this session's component")
	}
}

// "This will fail if the session has not had an IUserManager component
// set on it yet, however. You can pass a default value".
func TestGetFailsNamingTheKeyAndDefaultsAreNotStored(t *testing.T) {
	site, _ := newSite(t, reference.Config{})
	s := mustMake(t, site)
	_, err := s.GetComponent(shopKey("user"))
	var missing *reference.NoComponentError
	if !errors.As(err, &missing) || missing.Key != shopKey("user") {
		t.Fatalf("GetComponent of an unset key: %v, want a *NoComponentError for it", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "shopKey") || !strings.Contains(msg, `"user"`) {
		t.Fatalf("the error %q does not name the key", msg)
	}
	if v := s.ComponentOr(shopKey("user"), "guest"); v != "guest" {
		t.Fatalf("ComponentOr = %v, want the default", v)
	}
	if v := s.ComponentOr(shopKey("user"), "anonymous"); v != "anonymous" {
		t.Fatalf("ComponentOr = %v, want the second default: the first was stored", v)
	}
	if _, err := s.GetComponent(shopKey("user")); err == nil {
		t.Fatal("a default was stored")
	}
	s.SetComponent(shopKey("user"), "alice")
	if v := s.ComponentOr(shopKey("user"), "guest"); v != "alice" {
		t.Fatalf("ComponentOr of a set key = %v", v)
	}
	s.SetComponent(shopKey("user"), "bob")
	if v, _ := s.GetComponent(shopKey("user")); v != "bob" {
		t.Fatalf("after a second set: %v, want the replacement", v)
	}
	s.UnsetComponent(shopKey("user"))
	if _, err := s.GetComponent(shopKey("user")); err == nil {
		t.Fatal("UnsetComponent left the component")
	}
}

type userManager struct{ made int }

// "your UserManager adapter will be constructed and set on the session for
// you automatically. Future calls to IUserManager(ISession(ctx)) will
// return the same instance."
func TestAdapterMakesOnFirstUseAndTheSameAfterwards(t *testing.T) {
	site, _ := newSite(t, reference.Config{})
	var made atomic.Int32
	reference.RegisterAdapter(site, func(s *reference.Session, _ cartKey) any {
		return &userManager{made: int(made.Add(1))}
	})
	s := mustMake(t, site)
	first, err := s.GetComponent(cartKey{})
	if err != nil || first.(*userManager).made != 1 {
		t.Fatalf("first use: %v %v", first, err)
	}
	for range 3 {
		if v, _ := s.GetComponent(cartKey{}); v != first {
			t.Fatal("a later use made a new instance")
		}
		if v := s.ComponentOr(cartKey{}, "default"); v != first {
			t.Fatalf("ComponentOr = %v, want the adapter's instance", v)
		}
	}
	if v, _ := mustMake(t, site).GetComponent(cartKey{}); v == first {
		t.Fatal("two sessions share an adapter's instance")
	}
	// A set component is used instead; unset, the adapter makes anew.
	s.SetComponent(cartKey{}, "set")
	if v, _ := s.GetComponent(cartKey{}); v != "set" {
		t.Fatalf("after a set: %v", v)
	}
	s.UnsetComponent(cartKey{})
	if v, _ := s.GetComponent(cartKey{}); v == first || v.(*userManager).made != 3 {
		t.Fatalf("after unset: %v, want a third instance", v)
	}
	// Set before the first use: the adapter is never called.
	fresh := mustMake(t, site)
	fresh.SetComponent(cartKey{}, "preset")
	if v, _ := fresh.GetComponent(cartKey{}); v != "preset" || made.Load() != 3 {
		t.Fatalf("preset: %v, %d made", v, made.Load())
	}
	reference.RegisterAdapter[cartKey](site, nil)
	if _, err := mustMake(t, site).GetComponent(cartKey{}); err == nil {
		t.Fatal("a removed adapter still made an object")
	}
}

// First uses at once: one construction, one instance for all, and the
// constructor may use the session (its other components, its callbacks)
// because it runs with no lock held.
func TestAdapterRunsOnceUnlockedUnderContention(t *testing.T) {
	site, _ := newSite(t, reference.Config{})
	release := make(chan struct{})
	var made atomic.Int32
	reference.RegisterAdapter(site, func(s *reference.Session, _ shopKey) any {
		made.Add(1)
		<-release
		s.NotifyOnExpire(func() {})
		v, _ := s.GetComponent(cartKey{}) // another adapter, from inside this one
		s.SetComponent(forumKey("seen"), true)
		return &struct{ inner any }{v}
	})
	reference.RegisterAdapter(site, func(*reference.Session, cartKey) any { return new(userManager) })
	s := mustMake(t, site)
	const n = 32
	got := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], _ = s.GetComponent(shopKey("manager")) })
	}
	time.Sleep(10 * time.Millisecond) // let them pile up on the placeholder (not needed for correctness)
	close(release)
	wg.Wait()
	if made.Load() != 1 {
		t.Fatalf("%d constructions, want 1", made.Load())
	}
	for i := range got {
		if got[i] != got[0] || got[0] == nil {
			t.Fatalf("caller %d got %v, caller 0 %v", i, got[i], got[0])
		}
	}
}

// A constructor that panics stores nothing: the next use tries again.
func TestAdapterPanicStoresNothing(t *testing.T) {
	site, _ := newSite(t, reference.Config{})
	var calls atomic.Int32
	reference.RegisterAdapter(site, func(*reference.Session, cartKey) any {
		if calls.Add(1) == 1 {
			panic("first construction fails")
		}
		return "made"
	})
	s := mustMake(t, site)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the constructor's panic was swallowed")
			}
		}()
		s.GetComponent(cartKey{})
	}()
	if v, err := s.GetComponent(cartKey{}); v != "made" || err != nil {
		t.Fatalf("after a panic: %v %v", v, err)
	}
}

func TestComponentKeysMustBeComparable(t *testing.T) {
	site, _ := newSite(t, reference.Config{})
	s := mustMake(t, site)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "not comparable") {
			t.Fatalf("a slice key: %v", r)
		}
		s.SetComponent(cartKey{}, 1) // the session is still usable: no lock was left held
		if v, _ := s.GetComponent(cartKey{}); v != 1 {
			t.Fatal("the session's components are broken after the panic")
		}
	}()
	s.SetComponent([]int{1}, "x")
}

func TestRegisterAdapterRefusesInterfaceKeys(t *testing.T) {
	site, _ := newSite(t, reference.Config{})
	defer func() {
		if recover() == nil {
			t.Fatal("an interface key type was accepted")
		}
	}()
	reference.RegisterAdapter(site, func(*reference.Session, any) any { return 1 })
}

// An ended session keeps nothing stored on it afterwards, even by a
// request that still holds it.
func TestEndedSessionKeepsNothing(t *testing.T) {
	site, _ := newSite(t, reference.Config{})
	reference.RegisterAdapter(site, func(*reference.Session, cartKey) any { return new(userManager) })
	for _, withRecord := range []bool{false, true} {
		s := mustMake(t, site)
		if withRecord {
			s.SetComponent(shopKey("before"), 1)
		}
		s.Expire()
		s.SetComponent(shopKey("after"), 2)
		if _, err := s.GetComponent(shopKey("after")); err == nil {
			t.Fatal("a component set on an ended session was kept")
		}
		if _, err := s.GetComponent(shopKey("before")); err == nil {
			t.Fatal("a component outlived its session")
		}
		n := 0
		for range 2 {
			s.Component(shopKey("made"), func() any { n++; return n })
		}
		if n != 2 {
			t.Fatalf("Component on an ended session kept its object (%d made)", n)
		}
		a, _ := s.GetComponent(cartKey{})
		b, _ := s.GetComponent(cartKey{})
		if a == b {
			t.Fatal("an adapter's object was kept on an ended session")
		}
	}
}

// big is a megabyte whose collection is observed with runtime.AddCleanup.
type big struct {
	_    [1 << 20]byte
	name string
}

// watch returns a big object and a channel closed once the garbage
// collector has collected it.
func watch(name string) (*big, chan struct{}) {
	b := &big{name: name}
	done := make(chan struct{})
	runtime.AddCleanup(b, func(done chan struct{}) { close(done) }, done)
	return b, done
}

// collected runs the garbage collector until every channel is closed, at
// most 100 rounds of a collection and a 10 ms wait (about a second: the
// cleanups run on a goroutine of their own after the collection that finds
// their objects unreachable), and reports those that were not.
func collected(chans map[string]chan struct{}) (left []string) {
	for range 100 {
		runtime.GC()
		left = left[:0]
		for name, c := range chans {
			select {
			case <-c:
			case <-time.After(10 * time.Millisecond / time.Duration(len(chans))):
				left = append(left, name)
			}
		}
		if len(left) == 0 {
			return nil
		}
	}
	return left
}

// When a session ends, by expiry, timeout or eviction, everything on it
// becomes unreachable: a component, an adapter's object, an expiry
// callback and what it refers to. The *Session itself is held on purpose
// (a request in flight may hold it), so what is collected is what the
// session let go of.
func TestEverythingIsReleasedWhenTheSessionEnds(t *testing.T) {
	for _, ending := range []string{"expire", "timeout", "eviction"} {
		t.Run(ending, func(t *testing.T) {
			cfg := reference.Config{}
			if ending == "eviction" {
				cfg.MaxSessions = 1
			}
			site, clock := newSite(t, cfg)
			var adapted chan struct{}
			reference.RegisterAdapter(site, func(*reference.Session, cartKey) any {
				b, done := watch("adapter")
				adapted = done
				return b
			})
			s := mustMake(t, site)
			chans := map[string]chan struct{}{}
			func() {
				comp, done := watch("component")
				chans["component"] = done
				s.SetComponent(shopKey("big"), comp)
				made, done := watch("made")
				chans["made"] = done
				s.Component(forumKey("big"), func() any { return made })
				captured, done := watch("callback")
				chans["callback"] = done
				s.NotifyOnExpire(func() { _ = captured.name })
				if _, err := s.GetComponent(cartKey{}); err != nil {
					t.Fatal(err)
				}
				chans["adapter"] = adapted
			}()
			// While the session lives, all of it is held.
			for range 3 {
				runtime.GC()
			}
			time.Sleep(10 * time.Millisecond)
			for name, c := range chans {
				select {
				case <-c:
					t.Fatalf("%s was collected while its session lives", name)
				default:
				}
			}
			switch ending {
			case "expire":
				s.Expire()
			case "timeout":
				clock.Advance(timeout)
			case "eviction":
				mustMake(t, site)
			}
			if !s.Expired() {
				t.Fatalf("the session did not end by %s", ending)
			}
			if left := collected(chans); len(left) > 0 {
				t.Fatalf("after the session ended by %s, still reachable after 100 collections: %v", ending, left)
			}
			runtime.KeepAlive(s)
		})
	}
}

// The components resource over HTTP: the protocol of the package
// documentation.
func TestComponentsResource(t *testing.T) {
	srv, clock := newServer(t, timeout)
	alice := &browser{t: t, h: srv}
	get := func(b *browser, q string) answer {
		t.Helper()
		return b.get("/components?" + q)
	}
	want := func(a answer, status int, body string) {
		t.Helper()
		if a.status != status || strings.TrimSpace(a.body) != body {
			t.Fatalf("%d %q, want %d %q", a.status, a.body, status, body)
		}
	}
	if a := get(alice, "app=shop&key=user"); a.status != 404 || !strings.HasPrefix(a.body, "unset") || !strings.Contains(a.body, "user") {
		t.Fatalf("get-or-fail of an unset component: %d %q", a.status, a.body)
	}
	want(get(alice, "app=shop&key=user&default=guest"), 200, "guest")
	if a := get(alice, "app=shop&key=user"); a.status != 404 {
		t.Fatalf("the default was stored: %d %q", a.status, a.body)
	}
	want(get(alice, "app=shop&key=user&set=alice"), 200, "alice")
	want(get(alice, "app=shop&key=user"), 200, "alice")
	want(get(alice, "app=shop&key=user&default=guest"), 200, "alice")
	if a := get(alice, "app=forum&key=user"); a.status != 404 {
		t.Fatalf("another application sees shop's component: %d %q", a.status, a.body)
	}
	want(get(alice, "app=forum&key=user&set=alice%20on%20the%20forum"), 200, "alice on the forum")
	want(get(alice, "app=shop&key=user"), 200, "alice")
	want(get(alice, "app=shop&key=user&set=alice2"), 200, "alice2")
	want(get(alice, "app=shop&key=user"), 200, "alice2")

	inst := get(alice, "app=shop&key=adapter")
	if inst.status != 200 || !strings.HasPrefix(inst.body, "instance ") || !strings.Contains(inst.body, "made at 2026-01-01T00:00:00Z") {
		t.Fatalf("adapter: %d %q", inst.status, inst.body)
	}
	clock.Advance(time.Second)
	want(get(alice, "app=shop&key=adapter"), 200, inst.body)
	want(get(alice, "app=shop&key=adapter&default=x"), 200, inst.body)
	if other := get(alice, "app=forum&key=adapter"); other.body == inst.body {
		t.Fatal("two applications share an adapter's object")
	}
	bob := &browser{t: t, h: srv}
	if a := get(bob, "app=shop&key=adapter"); a.body == inst.body || a.status != 200 {
		t.Fatalf("bob got %d %q, alice's instance is %q", a.status, a.body, inst.body)
	}
	if a := get(bob, "app=shop&key=user"); a.status != 404 {
		t.Fatalf("bob sees alice's component: %q", a.body)
	}

	// Nothing survives the session: expire, then timeout.
	alice.get("/expire")
	if a := get(alice, "app=shop&key=user"); a.status != 404 {
		t.Fatalf("after /expire: %d %q", a.status, a.body)
	}
	if a := get(alice, "app=shop&key=adapter"); a.body == inst.body {
		t.Fatal("the adapter's object survived /expire")
	}
	want(get(alice, "app=shop&key=user&set=again"), 200, "again")
	clock.Advance(timeout)
	if a := get(alice, "app=shop&key=user"); a.status != 404 {
		t.Fatalf("after the timeout: %d %q", a.status, a.body)
	}
}

func TestComponentsResourceRefusesBadQueries(t *testing.T) {
	srv, _ := newServer(t, timeout)
	long := strings.Repeat("a", reference.MaxComponentName+1)
	for _, q := range []string{
		"", "app=a", "key=k", "app=&key=k", "app=a&key=", "app=a%20b&key=k", "app=" + long + "&key=k",
		"app=a&key=k&x=1", "app=a&app=b&key=k", "app=a&key=k&default=1&set=2", "app=a&key=k&set=%0a",
		"app=a&key=k&set=" + strings.Repeat("v", reference.MaxComponentValue+1), "app=a&key=k&set=%ff", "app=a&key=k&%zz",
	} {
		b := &browser{t: t, h: srv}
		a := b.get("/components?" + q)
		if a.status != 400 || len(a.setCookie) != 0 || strings.Count(strings.TrimSpace(a.body), "\n") != 0 {
			t.Errorf("?%s: %d %q, Set-Cookie %q; want 400, one line, no session", q, a.status, a.body, a.setCookie)
		}
	}
	b := &browser{t: t, h: srv}
	if a := b.get("/components?app=a&key=k&set=" + url.QueryEscape(strings.Repeat("é", reference.MaxComponentValue/2))); a.status != 200 {
		t.Errorf("a value of %d bytes: %d %q", reference.MaxComponentValue, a.status, a.body)
	}
}

func TestComponentsResourceIsBoundedPerSession(t *testing.T) {
	srv, _ := newServer(t, timeout)
	b := &browser{t: t, h: srv}
	for i := range reference.MaxComponentApps {
		for k := range reference.MaxComponentKeys {
			if a := b.get(fmt.Sprintf("/components?app=app%d&key=k%d&set=v", i, k)); a.status != 200 {
				t.Fatalf("app %d key %d: %d %q", i, k, a.status, a.body)
			}
		}
		if a := b.get(fmt.Sprintf("/components?app=app%d&key=adapter", i)); a.status != 200 {
			t.Fatalf("app %d adapter: %d %q", i, a.status, a.body)
		}
	}
	for _, q := range []string{"app=app0&key=one-more&set=v", "app=another&key=k&set=v", "app=another&key=adapter"} {
		if a := b.get("/components?" + q); a.status != 507 {
			t.Errorf("?%s past the bounds: %d %q, want 507", q, a.status, a.body)
		}
	}
	// What is stored can still be read and replaced; a get stores nothing.
	for _, q := range []string{"app=app0&key=k0&set=w", "app=app0&key=k0", "app=app7&key=adapter", "app=another&key=k&default=d"} {
		if a := b.get("/components?" + q); a.status != 200 {
			t.Errorf("?%s at the bounds: %d %q, want 200", q, a.status, a.body)
		}
	}
	if a := b.get("/components?app=another&key=k"); a.status != 404 {
		t.Errorf("get-or-fail of a new application at the bounds: %d %q, want 404", a.status, a.body)
	}
}
