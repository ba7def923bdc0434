// Package cluster is the reference session server as a cluster: the
// site's sessions are kept in Redis, so that several processes, each a
// Server with a name of its own, are replicas of one site behind a load
// balancer. None of them holds session state the others cannot see.
//
// A replica serves the same resources as reference.Server (the session
// page, /expire, /logme, /expired, /counter, /components, the discovery
// document and, on a fake clock, /_clock), with the same texts, cookie
// (TWISTED_SESSION, 64 hex digits, Path=/, set once, unknown ids never
// adopted), query language and bounds: the parsing is the reference's
// own (reference.ParseComponentQuery, reference.ParseExpiredIDs,
// reference.CandidateUIDs). Whichever replica a request reaches:
//
//   - a visit refreshes the session's deadline for all of them;
//   - /expire ends the session everywhere before its answer is sent;
//   - each registered notification fires exactly once cluster-wide, on
//     timeout, /expire or eviction, even when a replica dies mid-sweep;
//   - concurrent counter increments are never lost (HINCRBY in a script,
//     never read-modify-write).
//
// # Usage
//
//	rdb, err := cluster.NewClient("redis://127.0.0.1:6379/0")
//	...
//	srv, err := cluster.New(ctx, cluster.Config{Redis: rdb, Replica: "a",
//		Timeout: 5 * time.Second, Clock: fakeclock.NewFake(cluster.FakeEpoch)})
//	...
//	defer srv.Close()
//	http.ListenAndServe("127.0.0.1:8081", srv)
//
// or from the command line, three replicas of one site:
//
//	sessionspec serve --store redis://127.0.0.1:6379/0 --fake-clock --addr 127.0.0.1:8081 --replica-name a
//	sessionspec serve --store redis://127.0.0.1:6379/0 --fake-clock --addr 127.0.0.1:8082 --replica-name b
//	sessionspec serve --store redis://127.0.0.1:6379/0 --fake-clock --addr 127.0.0.1:8083 --replica-name c
//
// # Keys
//
// Every key begins with Config.Prefix (DefaultPrefix, "sessionspec:"),
// so several sites can share one database. With P the prefix:
//
//	P deadlines       sorted set: each live session's uid, scored by its deadline
//	                  in Unix milliseconds on the site's clock
//	P s:<uid>         hash: the session: sec (issued over TLS), dns (the deadline's
//	                  nanoseconds past its millisecond), n (the counter), logged,
//	                  c:<app>:<key> and a:<app> (components, adapter objects),
//	                  n:<app>, apps and b (the components' accounts)
//	P fresh           sorted set, with a cap: sessions never visited again, by age
//	P seq, P evicted  counters: creations (the fresh order), evictions
//	P bytes           the components' bytes over the whole site (64 MiB at most)
//	P feed:<replica>  list: the uids whose notification that replica fired, oldest
//	                  first (Config.FeedLimit lines; older ones dropped and counted
//	                  in P dropped:<replica>)
//	P fired:<replica> hash: per uid, its lines in that feed (for /expired?id=)
//	P replicas        set: the replicas' names
//	P clock           hash: the cluster's high-water virtual time (fake clocks)
//	P site            hash: the site's clock kind, timeout and cap, which every
//	                  replica must share while the site has live sessions
//
// The sorted set is the authority on which sessions live: a session is
// live exactly while its uid is a member.
//
// # Scripts
//
// Every change that can race is one Lua script, which Redis runs
// atomically: nothing else runs between its commands.
//
//	visit   the request's cookie value: lookup, expiry if its deadline has
//	        passed (the session ends and fires; the request gets a new one),
//	        refresh (the deadline only ever moves later), and the request's own
//	        operation: counter increment, /logme registration (once), /expire,
//	        component get, default, set or adapter (with the reference's bounds)
//	create  a new session, first ending one if the site is at its cap (a session
//	        past its deadline, else the oldest never visited again, else the
//	        least recently used: the reference's order), then the operation
//	sweep   at most a batch of sessions whose deadline is at or before now
//	        (ZRANGEBYSCORE), ended one by one; run again until none is due
//
// Ending a session is one function of those scripts: it removes the
// session from the sorted set (ZREM answering 0 means another script
// already ended it: then it does nothing), deletes its hash, gives back
// its components' bytes and, if it was registered by /logme, appends its
// uid to the running replica's feed, in the same atomic step.
//
// # Time
//
// Deadlines are absolute times on the site's clock: Unix milliseconds as
// the sorted set's score, exact as a double, and the nanoseconds past
// that millisecond in the session's hash, compared as a pair, so a
// session lives exactly its timeout to the nanosecond, as in the
// in-memory reference. Redis's own key TTLs are not used at all: they
// run on Redis's real clock, while on --fake-clock the site's time moves
// only when the suite advances it, so a session may have to live for
// hours of real time (the suite idling) or end after a millisecond of it
// (an advance of 900 s); and on the wall clock a TTL's expiry fires no
// notification in our scripts. So expiry is decided only by comparing
// deadlines with the replica's clock, in the scripts.
//
// On a wall clock every replica reads the same machine's time. On a
// fake clock each replica keeps its own fakeclock.Fake, starting at
// FakeEpoch; the suite advances all of them by the same steps (its
// cluster mode posts each advance to every replica). Each advance
// records the cluster's high-water virtual time in Redis before it
// sweeps, and a replica starting (or restarting) adopts that time, so it
// is not behind the others.
//
// A session found past its deadline on lookup is ended there, so the
// answer is exact whenever the sweep runs. The sweep runs on each replica:
// on the wall clock from a ticker (a twentieth of the timeout, within
// 5 ms..1 s), so a notification fires at most that late; on a fake clock
// after each advance, before the clock resource answers, so the advance's
// answer comes after every expiry it caused has fired.
//
// # Exactly once
//
// A notification is appended only by the script that removes the
// session from the sorted set, and a script that finds it already
// removed appends nothing. Redis runs one script at a time, so of any
// number of replicas sweeping, looking up or expiring the same session at
// once, exactly one removes it and fires. A replica that dies mid-sweep
// dies between scripts, or while Redis runs one of its scripts: Redis
// runs a script it has received to the end whatever happens to the
// client, and applies nothing of a script it never received. So each
// session is either ended, with its notification in the dead replica's
// feed (kept in Redis under its name), or still in the sorted set, where
// the other replicas' sweeps and lookups find it. Nothing is lost or
// doubled.
//
// # When Redis is away
//
// A request that cannot reach Redis gets 503 with a one-line reason, and
// the replica logs why (at most a line a second). The client is made
// without retries (NewClient), because a script whose reply was lost may
// have run, and running it twice would count a visit twice; and a script
// either ran whole or not at all, so nothing is left half done. An
// advance of a fake clock whose sweep fails answers 503 too; the clock
// has moved, and the next sweep or lookup ends what is due. When Redis
// is back (with its data: a Redis restarted without persistence has lost
// every session, as any store would), the replicas carry on.
//
// A replica serves no WebSocket (/ws): a socket lives in one process, and
// closing it when another replica ends its session would need that
// replica to tell the others; the discovery document does not declare
// one, so the suite's WebSocket cases are not applicable.
//
// Scripts name keys they compute (a victim's or a swept session's), so
// the site needs one Redis, not Redis Cluster.
package cluster
