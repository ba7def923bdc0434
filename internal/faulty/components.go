package faulty

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// The defects of the components resource (the reference, with its
// /components resource served by a store of its own that has one defect).
const (
	// ComponentsSharedByApps keys components by their name alone, not by
	// application: two applications' "user" are one component.
	ComponentsSharedByApps Fault = "components-shared-by-apps"
	// DefaultIsStored stores the default a get-or-default answers, so the
	// component is set from then on.
	DefaultIsStored Fault = "default-is-stored"
	// AdapterEveryTime makes a new adapter object on every request
	// instead of once per session.
	AdapterEveryTime Fault = "adapter-every-time"
	// SetKeepsFirst sets a component only when it is unset (a
	// get-or-make used as set), yet answers the value as if it had been
	// stored: a second set, or a set over the adapter's object, changes
	// nothing.
	SetKeepsFirst Fault = "set-keeps-first"
	// ComponentsOutliveExpiry keeps components in a store of their own,
	// keyed by session id, that nothing clears; a request with an ended
	// session's cookie gets a new session, and the store moves the old
	// session's components over to it (a "renewed session keeps its data"
	// feature applied to ended sessions).
	ComponentsOutliveExpiry Fault = "components-outlive-expiry"
	// ComponentsOutliveTimeout is that store cleared by the /expire
	// resource only (cleanup written in the logout handler, not in the
	// session's end): /expire drops the components, a timeout does not.
	ComponentsOutliveTimeout Fault = "components-outlive-timeout"
)

// componentFaults are the defects of the component cases' resource, each
// with the case that must catch it.
var componentFaults = []Entry{
	{Fault: ComponentsSharedByApps, CaughtBy: "COMPONENT-001"},
	{Fault: DefaultIsStored, CaughtBy: "COMPONENT-002"},
	{Fault: AdapterEveryTime, CaughtBy: "COMPONENT-003"},
	{Fault: SetKeepsFirst, CaughtBy: "COMPONENT-004"},
	// COMPONENT-006 fails too: the timeout moves them over as well.
	{Fault: ComponentsOutliveExpiry, CaughtBy: "COMPONENT-005"},
	{Fault: ComponentsOutliveTimeout, CaughtBy: "COMPONENT-006"},
}

// newComponentTarget builds the target of one of componentFaults, or returns nil
// for any other fault.
func newComponentTarget(f Fault, clock *fakeclock.Fake, timeout time.Duration) http.Handler {
	switch f {
	case ComponentsSharedByApps, DefaultIsStored, AdapterEveryTime, SetKeepsFirst, ComponentsOutliveExpiry, ComponentsOutliveTimeout:
	default:
		return nil
	}
	site := reference.NewSite(reference.Config{Clock: clock, SessionTimeout: timeout})
	return &componentTarget{fault: f, clock: clock, timeout: timeout, site: site,
		srv: reference.NewServer(site, nil), stored: map[string]map[compKey]string{}}
}

// compKey names a component of the faulty store: an application's key.
type compKey struct{ app, key string }

// componentTarget is the reference with /components served from a store
// keyed by session id, as a server keeping components beside its sessions
// would.
type componentTarget struct {
	fault   Fault
	clock   *fakeclock.Fake
	timeout time.Duration
	site    *reference.Site
	srv     *reference.Server

	mu     sync.Mutex
	stored map[string]map[compKey]string // session uid -> components
}

func (c *componentTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case contract.PathDiscovery:
		d := c.srv.Discovery()
		d.Implementation = "faulty reference (" + string(c.fault) + ")"
		secs := c.timeout.Seconds()
		d.TimeoutSeconds = &secs
		writeJSON(w, d)
	case contract.PathComponents:
		c.serveComponents(w, r)
	case contract.PathExpire:
		if c.fault == ComponentsOutliveTimeout {
			if ck, err := r.Cookie(contract.CookieName); err == nil {
				c.mu.Lock()
				delete(c.stored, ck.Value)
				c.mu.Unlock()
			}
		}
		c.srv.ServeHTTP(w, r)
	default:
		c.srv.ServeHTTP(w, r)
	}
}

func (c *componentTarget) serveComponents(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || q.Get("app") == "" || q.Get("key") == "" {
		http.Error(w, "want app and key", http.StatusBadRequest)
		return
	}
	sess, err := c.site.GetSession(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	uid := sess.UID()
	k := compKey{q.Get("app"), q.Get("key")}
	if c.fault == ComponentsSharedByApps {
		k.app = ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	comps := c.stored[uid]
	if comps == nil {
		comps = map[compKey]string{}
		if old, err := r.Cookie(contract.CookieName); err == nil && old.Value != uid && c.outlives() {
			// The request named a session that has ended: its components
			// move to the session that replaces it.
			if moved, ok := c.stored[old.Value]; ok {
				comps = moved
				delete(c.stored, old.Value)
			}
		}
		c.stored[uid] = comps
		if !c.outlives() {
			sess.NotifyOnExpire(func() {
				c.mu.Lock()
				delete(c.stored, uid)
				c.mu.Unlock()
			})
		}
	}
	v, ok := comps[k]
	switch {
	case q.Has("set"):
		if !ok || c.fault != SetKeepsFirst {
			comps[k] = q.Get("set")
		}
		v, ok = q.Get("set"), true
	case k.key == "adapter":
		if !ok || c.fault == AdapterEveryTime {
			var id [8]byte
			rand.Read(id[:])
			v, ok = "instance "+hex.EncodeToString(id[:]), true
			comps[k] = v
		}
	case q.Has("default") && !ok:
		v, ok = q.Get("default"), true
		if c.fault == DefaultIsStored {
			comps[k] = v
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "unset: %s\n", strings.TrimSpace(k.app+" "+k.key))
		return
	}
	fmt.Fprint(w, v)
}

// outlives reports whether the fault keeps components past their session.
func (c *componentTarget) outlives() bool {
	return c.fault == ComponentsOutliveExpiry || c.fault == ComponentsOutliveTimeout
}
