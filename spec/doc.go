// Package spec is the sessionspec conformance suite: cases that check any
// HTTP session implementation against the behaviour Twisted Web documents
// in "Session Basics", "Storing Objects in the Session" and "Session
// Endings". It talks to the target only over HTTP (or an in-memory
// transport); see package contract for what a target serves.
//
// # Cases
//
// A case is one keyed literal, in the file of its area (persistence.go,
// expire.go, timeout.go, ...): its stable ID, level, area, title, the
// sentence of the source it checks (verbatim), the resources it needs, and
// its Check. Cases() lists them in report order; nothing is registered
// anywhere, so other cases (package browser's) join a run by being passed
// in Options.Cases. A case fails through its probe's own Gomega
// (p.Expect), ends early with p.NotApplicable or p.Abort, and its failure
// carries the HTTP exchanges that prove it.
//
// # Runs
//
// Run is a function of a Target and Options: it may be called any number
// of times in one process, also at once. Label filters use Ginkgo's syntax
// over the labels level, area, ID and needs-RESOURCE ("MUST && !timeout",
// "needs-expired"). For Go users
// there are three ways in: Test checks an http.Handler on virtual time,
// like testing/fstest.TestFS; TestURL checks a server at a URL; and
// package ginkgosuite makes the same cases Ginkgo specs for a Ginkgo suite
// or the ginkgo CLI.
//
// # Concurrency and time
//
// Every case has users and sessions of its own, so cases run at once
// (Options.Parallel, DefaultParallel by default): on the wall clock a
// whole run takes about as long as its longest case. On a controlled
// clock, time is shared by every session of the target, so a case that
// lets time pass (it declares Needs: Time) holds the clock exclusively
// while it runs, and every other case holds it shared: a case never sees
// another case's advance in the middle of its own steps, and cases that
// do not move time still run together. The run also knows where the clock
// must be after each of its own advances: a clock found anywhere else was
// moved by someone else (another run sharing a fake-clock target), and
// that is a harness error, never a verdict.
//
// # Clusters
//
// A target may be N replicas of one site (Target.Replicas, AddReplica,
// ClusterTarget in memory). The suite is then their load balancer: each
// user's cookie jar sees the target's one origin, and a case sends a
// request to replica i with u.On(i), the evidence naming the replica. A
// controlled clock is advanced on every replica at once, the step done
// when all have answered; the replicas' clocks must agree, and a move this
// run did not make on any of them is a harness error. The expired feed is
// the union of the replicas' feeds. The CLUSTER cases need Replicas, an
// optional resource: without replicas they are n/a and the run is not
// incomplete for it.
//
// # Whole seconds
//
// Many stores count time in whole seconds (signed-cookie timestamps, TTLs
// in seconds, file mtimes) and keep a session up to a second past its
// timeout. The MUST cases accept that (Overshoot): a session must be gone
// by timeout + 1 s (+ the tolerance on the wall clock), so such a store
// gets the same verdict on every run. TIMEOUT-005 (SHOULD) checks the
// timeout without it, with sessions started at five phases of a second,
// so the rounding shows on every run, and names the resolution it saw.
// The MUST cases allow the same second early (TIMEOUT-001 looks at
// timeout - 1 s - the tolerance): a cookie whose Expires is an HTTP date
// rounded down ends a session up to a second early for every browser.
// TIMEOUT-001 uses the same phases, so a store that ends sessions more
// than that early fails on every run, not one in several; TIMEOUT-005
// catches the second.
//
// # Outcomes and exit codes
//
// A case passes, fails, is not applicable (with the reason), errs (the
// target or the harness failed; later cases are not tried) or is
// interrupted. A run exits 0 only when every MUST case ran and passed; 1
// when a MUST case failed; 2 on a harness or target error or an
// interruption; 3 when a MUST case was not applicable (an incomplete run)
// unless the user allowed it (Options.AllowNA, or an expectation "ID n/a").
//
// # Bounds
//
// Whatever a target sends, the suite keeps: at most 1 MiB of a page (a
// longer one is a target error), 256 KiB of headers and 64 Set-Cookie
// lines per answer, 8 headers of each kind and 512 bytes of body per
// exchange in the evidence, the first and last 12 exchanges of a case, and
// only the counts of the ids it asks about from the expired feed (which it
// streams, up to 128 MiB). Target.Sessions is at most MaxSessions. Every
// request is bounded by Target.RequestTimeout, and goes to the target's
// origin only (or one the user named): a redirect is never followed.
package spec
