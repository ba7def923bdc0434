package spec

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/gomega"
)

// The components resource (contract.PathComponents), as the suite asks
// it, GET only:
//
//	?app=A&key=K            get-or-fail: 200 and the value, or 404 with a body beginning "unset"
//	?app=A&key=K&default=D  get-or-default: 200 and the value, or D (not stored)
//	?app=A&key=K&set=V      set: stores V, replacing; 200 V
//	?app=A&key=adapter      the adapter's object, made on first use: 200 and any text
//	                        identifying the instance
//
// A 404 whose body does not begin with "unset" means the target has no
// such resource: the case is not applicable.

// token is a value no other case or run uses: what a case stores, so that
// a value found can only be the one this case stored.
func token(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// askComponent asks the components resource as u and returns the value
// answered, or false for a get-or-fail of an unset component. extra is
// "", "default" or "set", with its value.
func (p *Probe) askComponent(u *User, app, key, extra, value string) (string, bool) {
	q := url.Values{"app": {app}, "key": {key}}
	if extra != "" {
		q.Set(extra, value)
	}
	path := p.T.Paths.Components
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	r := p.Get(u, path+sep+q.Encode())
	body := strings.TrimSpace(r.Body)
	switch {
	case r.Status == http.StatusOK:
		return body, true
	case r.Status == http.StatusNotFound && strings.HasPrefix(body, "unset"):
		p.Expect(extra).To(BeEmpty(), "GET %s?%s answered 404 %q: a %s must answer 200 with the value", path, q.Encode(), excerpt(body, 200), extra)
		return "", false
	case r.Status == http.StatusNotFound:
		p.NotApplicable("GET %s?%s answered 404 without \"unset\": the target has no components resource (declare it absent with --paths components=)",
			path, q.Encode())
	}
	p.Fail("GET %s?%s answered %d %q; the components resource answers 200, or 404 \"unset\" for a get-or-fail of an unset component",
		path, q.Encode(), r.Status, excerpt(body, 200))
	return "", false
}

// getComponent is get-or-fail.
func (p *Probe) getComponent(u *User, app, key string) (string, bool) {
	return p.askComponent(u, app, key, "", "")
}

// setComponent sets app's key to v and checks the answer.
func (p *Probe) setComponent(u *User, app, key, v string) {
	got, _ := p.askComponent(u, app, key, "set", v)
	p.Expect(got).To(Equal(v), "%s: setting application %s's component %s must answer the value set", u.Name, app, key)
}

// defaultComponent is get-or-default.
func (p *Probe) defaultComponent(u *User, app, key, def string) string {
	got, _ := p.askComponent(u, app, key, "default", def)
	return got
}

// adapted is app's adapter object on u's session: the instance's identity.
func (p *Probe) adapted(u *User, app string) string {
	got, _ := p.askComponent(u, app, "adapter", "", "")
	p.Expect(got).NotTo(BeEmpty(), "%s: application %s's adapter object must identify its instance", u.Name, app)
	return got
}

// Storing objects in the session, per the Nevow post: components set under
// an application's own key, get-or-default, made on first use and the same
// instance afterwards, replaced by set, released when the session ends.
//
// Levels: every case is MUST. The post describes what the session does
// with a component, not a style the application may choose: adaptation
// fails on an unset component, a default does not set it, an adapter's
// instance is made once and set on the session, setComponent is what
// adaptation answers, and the session's objects last until it expires
// (Session Endings says as much of what a callback refers to). A store
// that broke any of these would break applications written to the post.
var componentCases = []Case{
	{
		ID: "COMPONENT-001", Level: Must, Area: "components", Source: SessionStore,
		Title: "two applications' components under the same key on one session never meet",
		Seed:  "if your application might be mixed and matched with other people's applications (not super likely at the moment) you may want to set a component on the session using an interface unique to your",
		Needs: []Resource{Components},
		Check: func(p *Probe) {
			alice, bob := p.User("alice"), p.User("bob")
			shop, forum := token("shop-user"), token("forum-user")
			p.setComponent(alice, "shop", "user", shop)
			got, set := p.getComponent(alice, "forum", "user")
			p.Expect(set).To(BeFalse(), "application forum's component user must be unset: only application shop set a component user on alice's session; it answered %q", got)
			p.setComponent(alice, "forum", "user", forum)
			got, _ = p.getComponent(alice, "shop", "user")
			p.Expect(got).To(Equal(shop), "application shop's component user, after application forum set its own")
			got, _ = p.getComponent(alice, "forum", "user")
			p.Expect(got).To(Equal(forum), "application forum's component user")
			got, set = p.getComponent(bob, "shop", "user")
			p.Expect(set).To(BeFalse(), "bob's session must not see the components of alice's; it answered %q", got)
		},
	},
	{
		ID: "COMPONENT-002", Level: Must, Area: "components", Source: SessionStore,
		Title: "an unset component fails to get; a default is answered instead, and is not stored",
		Seed:  "This will fail if the session has not had an IUserManager component set on it yet, however. You can pass a default value to the IUserManager adaption",
		Needs: []Resource{Components},
		Check: func(p *Probe) {
			u := p.User("alice")
			got, set := p.getComponent(u, "shop", "cart")
			p.Expect(set).To(BeFalse(), "getting a component never set must fail (404 \"unset\"); it answered %q", got)
			first, second := token("default"), token("default")
			p.Expect(p.defaultComponent(u, "shop", "cart", first)).To(Equal(first), "the unset component, asked with a default, must answer the default")
			got, set = p.getComponent(u, "shop", "cart")
			p.Expect(set).To(BeFalse(), "after a get with a default the component must still be unset: a default is not set on the session; it answered %q", got)
			p.Expect(p.defaultComponent(u, "shop", "cart", second)).To(Equal(second), "a second default must be answered, not the first one (stored?)")
			v := token("cart")
			p.setComponent(u, "shop", "cart", v)
			p.Expect(p.defaultComponent(u, "shop", "cart", first)).To(Equal(v), "a component that is set answers its value, not the default")
		},
	},
	{
		ID: "COMPONENT-003", Level: Must, Area: "components", Source: SessionStore,
		Title: "an adapter's instance is made on first use and is the same on every later request of the session",
		Seed:  "your UserManager adapter will be constructed and set on the session for you automatically. Future calls to IUserManager(ISession(ctx)) will return the same instance.",
		Needs: []Resource{Components},
		Check: func(p *Probe) {
			alice, bob := p.User("alice"), p.User("bob")
			first := p.adapted(alice, "shop")
			for i := range 3 {
				p.Expect(p.adapted(alice, "shop")).To(Equal(first), "alice's request %d after the adapter's first use must find the same instance", i+2)
			}
			p.Expect(p.adapted(bob, "shop")).NotTo(Equal(first), "bob's session must have an instance of its own")
			p.Expect(p.adapted(alice, "forum")).NotTo(Equal(first), "another application's adapter object on alice's session must be another instance")
			p.Expect(p.adapted(alice, "shop")).To(Equal(first), "alice's instance after bob's was made")
		},
	},
	{
		ID: "COMPONENT-004", Level: Must, Area: "components", Source: SessionStore,
		Title: "a set component replaces what was there, an adapter's instance included",
		Seed:  "when you say IUserManager(ISession(ctx)) without having previously called setComponent on the session with the IUserManager interface",
		Needs: []Resource{Components},
		Check: func(p *Probe) {
			alice, carol := p.User("alice"), p.User("carol")
			v1, v2 := token("user"), token("user")
			p.setComponent(alice, "shop", "user", v1)
			got, _ := p.getComponent(alice, "shop", "user")
			p.Expect(got).To(Equal(v1), "the component after the first set")
			p.setComponent(alice, "shop", "user", v2)
			got, _ = p.getComponent(alice, "shop", "user")
			p.Expect(got).To(Equal(v2), "the component after a second set must be the new value")
			instance := p.adapted(alice, "shop")
			replacement := token("replaces-the-adapter")
			p.setComponent(alice, "shop", "adapter", replacement)
			p.Expect(p.adapted(alice, "shop")).To(Equal(replacement), "a component set over the adapter's instance (%s) must replace it", instance)
			preset := token("set-before-first-use")
			p.setComponent(carol, "shop", "adapter", preset)
			p.Expect(p.adapted(carol, "shop")).To(Equal(preset), "a component set before the adapter's first use must be answered: the adapter is for a session without one")
		},
	},
	{
		ID: "COMPONENT-005", Level: Must, Area: "components", Source: SessionEndings,
		Title: "no component survives an explicitly expired session",
		Seed:  "in memory until the session expires",
		Needs: []Resource{Components, Expire},
		Check: func(p *Probe) {
			u := p.User("alice")
			v := token("user")
			p.setComponent(u, "shop", "user", v)
			instance := p.adapted(u, "shop")
			snap := u.Snapshot()
			p.Get(u, p.T.Paths.Expire)
			got, set := p.getComponent(u, "shop", "user")
			p.Expect(set).To(BeFalse(), "after %s the component set on the expired session must be gone; it answered %q", p.T.Paths.Expire, got)
			p.Expect(p.adapted(u, "shop")).NotTo(Equal(instance), "after %s the adapter must make a new instance for the new session", p.T.Paths.Expire)
			replay := p.User("alice-replaying-her-jar")
			replay.Restore(snap)
			p.Tr.Note("alice-replaying-her-jar sends the cookies alice held before %s: %s", p.T.Paths.Expire, excerpt(snap.String(), 600))
			got, set = p.getComponent(replay, "shop", "user")
			p.Expect(set).To(BeFalse(), "the cookies alice held before %s must not bring the expired session's component back; it answered %q", p.T.Paths.Expire, got)
		},
	},
	{
		ID: "COMPONENT-006", Level: Must, Area: "components", Source: SessionEndings,
		Title: "components last as long as the session, and no longer: there until it times out, gone after",
		Seed:  "in memory until the session expires",
		Needs: []Resource{Components, Time},
		Check: func(p *Probe) {
			p.NeedTime(p.Alive() + p.Full())
			u := p.User("alice")
			v := token("user")
			p.setComponent(u, "shop", "user", v)
			instance := p.adapted(u, "shop")
			p.Idle(p.Alive())
			got, _ := p.getComponent(u, "shop", "user")
			p.Expect(got).To(Equal(v), "after %s idle (timeout %s) the session and its component must still be there", p.Alive(), p.T.Timeout)
			p.Idle(p.Full())
			got, set := p.getComponent(u, "shop", "user")
			p.Expect(set).To(BeFalse(), "after %s idle (timeout %s) the session timed out: its component must be gone; it answered %q", p.Full(), p.T.Timeout, got)
			p.Expect(p.adapted(u, "shop")).NotTo(Equal(instance), "after the timeout the adapter must make a new instance for the new session")
		},
	},
}
