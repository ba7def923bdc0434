// The seed examples of Twisted Web's session howtos on koa-session, the
// session middleware of Koa (both from npm, pinned in package.json). Every
// session is koa-session's: made, loaded, checked for expiry, saved and
// removed by it. This file only maps the seed resources onto ctx.session.
//
// Two stores, both koa-session's own ways of keeping a session:
//
//   cookie (default)  koa-session's default: the session is the cookie
//                     "koa.sess", its data as base64 JSON with _expire and
//                     _maxAge added (context.js:295-296, util.js:20-22),
//                     signed by the cookies module with keygrip into
//                     "koa.sess.sig". The server keeps nothing.
//   store (--store)   koa-session's `store` option: the cookie "koa.sess"
//                     holds only the external key (genid: randomUUID), and
//                     the data (with _expire and _maxAge) lives in the store,
//                     here a Map in this process (DEPLOYMENT CODE, below).
//
//   /          ShowSession: "Your session id is: <id>". The store mode shows
//              ctx.session.externalKey, koa-session's own id. The cookie mode
//              has no id (a Session is a plain object), so the first request
//              that asks for the session stores 32 random bytes as 64 hex
//              digits in it (ADAPTER CODE, as targets/flask and targets/mojo do)
//   /expire    ExpireSession: ctx.session = null, koa-session's documented way
//              ("To destroy a session simply set it to null"): the cookie is
//              cleared, and in the store mode store.destroy(key) is called
//   /counter   the session-store example: "Visit #N for you!", N in
//              ctx.session.count (the README's own view counter)
//   /logme     (store mode only) marks the session once; the store logs
//              the marked sessions it drops (see below)
//   /expired   (store mode only) the logged ids, one per line
//   /.well-known/sessionspec  the discovery document
//
// The feed and the discovery document are answered before the session
// middleware, so they never load, make or refresh a session.
//
// Options: koa-session's defaults except what must be set:
//   - app.keys: 32 random bytes per start (DEPLOYMENT CODE: koa-session signs
//     with the app's keys and refuses to run without them; cookies of an
//     earlier run are refused);
//   - maxAge: --timeout seconds * 1000 ms, the timeout (the default is one
//     day, 86400000 ms, context.js:12, 286);
//   - store (store mode only).
// rolling and renew stay false (their defaults, index.js:57, 62) unless
// --rolling or --renew is given, which no mode of peer.json does: they are
// there to measure what the defaults do (README.md).
//
// Usage: node server.js [--port P] [--timeout SECONDS] [--store]
//                       [--rolling] [--renew]
// --port 0 (the default) binds a free port on 127.0.0.1; the line
// "listening on http://127.0.0.1:P/ ..." on stdout says which, once bound.
'use strict'

const crypto = require('crypto')
const Koa = require('koa')
const session = require('koa-session').default

function arg (name, def) {
  const i = process.argv.indexOf(name)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def
}
const port = Number(arg('--port', '0'))
const timeout = Number(arg('--timeout', '2'))
const useStore = process.argv.includes('--store')
const rolling = process.argv.includes('--rolling')
const renew = process.argv.includes('--renew')
if (!Number.isInteger(port) || port < 0 || port > 65535 || !(timeout > 0)) {
  console.error('usage: node server.js [--port P] [--timeout SECONDS] [--store] [--rolling] [--renew]')
  process.exit(2)
}

const version = (pkg) => require(pkg + '/package.json').version

// The ids whose expiry notification fired, in order (store mode).
const expired = []

// DEPLOYMENT CODE: the external store. koa-session ships none; its README
// asks for an object with async get(key, maxAge, {rolling, ctx}),
// set(key, sess, maxAge, {rolling, changed, ctx}) and destroy(key, {ctx}),
// "with a maxAge (in ms)" for set. Its own test store (test/store.ts in the
// koa-session repository) is a plain object that ignores maxAge; this one is
// a Map that also honours the maxAge koa-session hands it, as a TTL store
// such as Redis would (one timer per key), so entries do not pile up for
// ever. koa-session passes the session's maxAge + 10000 ms to set
// ("ensure store expired after cookie", context.js:301-304): the store keeps
// an entry 10 s after the session itself has expired. Whether a session is
// still alive is koa-session's decision, by the _expire in the stored data
// (context.js:156), not the store's.
//
// ADAPTER CODE: the notification. koa-session runs nothing when a session
// ends (it emits "session:expired" only when a request brings an expired
// session back, context.js:156-158), so the expiry notification of /logme is
// the store's: an entry /logme marked is logged when it leaves the Map,
// destroyed (/expire) or dropped by its TTL.
class MapStore {
  constructor () {
    this.entries = new Map() // key -> {sess, timer}
  }

  async get (key) {
    const e = this.entries.get(key)
    return e ? e.sess : undefined
  }

  async set (key, sess, maxAge) {
    const old = this.entries.get(key)
    if (old) clearTimeout(old.timer)
    let timer
    if (typeof maxAge === 'number') {
      timer = setTimeout(() => this.drop(key), maxAge)
      timer.unref()
    }
    this.entries.set(key, { sess, timer })
  }

  async destroy (key) {
    this.drop(key)
  }

  drop (key) {
    const e = this.entries.get(key)
    if (!e) return
    clearTimeout(e.timer)
    this.entries.delete(key)
    if (e.sess && e.sess.logme) { // ADAPTER CODE: the notification
      expired.push(key)
      console.log(`Session ${key} has expired.`)
    }
  }
}

const app = new Koa()
app.keys = [crypto.randomBytes(32).toString('hex')] // DEPLOYMENT CODE: the signing key

const CONFIG = {
  maxAge: timeout * 1000
}
if (rolling) CONFIG.rolling = true
if (renew) CONFIG.renew = true
if (useStore) CONFIG.store = new MapStore()

const impl = `koa-session ${version('koa-session')} (koa ${version('koa')}, cookies ${version('cookies')}, ` +
  `keygrip ${version('keygrip')}, node ${process.versions.node}; ` +
  (useStore ? 'external store: a Map in the process, notification when it drops a /logme entry' : 'cookie store') +
  `; maxAge ${CONFIG.maxAge} ms, rolling ${rolling}, renew ${renew})`

const discovery = {
  sessionspec: 1,
  implementation: impl,
  cookie: 'koa.sess',
  timeout_seconds: timeout,
  paths: useStore
    ? { session: '/', expire: '/expire', logme: '/logme', expired: '/expired', counter: '/counter', clock: '' }
    : { session: '/', expire: '/expire', logme: '', expired: '', counter: '/counter', clock: '' }
}

// Answered before the session middleware: no session is loaded or made.
app.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/.well-known/sessionspec') {
    ctx.body = discovery
    return
  }
  if (useStore && ctx.method === 'GET' && ctx.path === '/expired') {
    ctx.type = 'text/plain'
    ctx.body = expired.map((id) => id + '\n').join('')
    return
  }
  await next()
})

app.use(session(CONFIG, app))

// Twisted's request.getSession(): the session, made on first use.
function currentSession (ctx) {
  const s = ctx.session
  // ADAPTER CODE (cookie mode): koa-session's cookie sessions have no id.
  if (!useStore && s.id === undefined) s.id = crypto.randomBytes(32).toString('hex')
  return s
}
function sessionId (ctx) {
  const s = currentSession(ctx)
  if (!useStore) return s.id
  // The store mode's id is koa-session's external key. A new session gets its
  // key now but is saved (and the key sent) only if it holds data
  // (context.js:233), so a first visit to / stores a mark in it, as
  // Twisted's getSession makes the session on first use (ADAPTER CODE, the
  // store mode's counterpart of the cookie mode's id).
  if (s.isNew && !s.populated) s.made = true
  return s.externalKey
}

app.use(async (ctx) => {
  if (ctx.method !== 'GET') ctx.throw(405)
  switch (ctx.path) {
    case '/':
      ctx.type = 'text/plain'
      ctx.body = 'Your session id is: ' + sessionId(ctx)
      return
    case '/expire':
      ctx.session = null
      ctx.type = 'text/plain'
      ctx.body = 'Your session has been expired.'
      return
    case '/counter': {
      const s = currentSession(ctx)
      s.count = (s.count || 0) + 1
      ctx.type = 'text/plain'
      ctx.body = `Visit #${s.count} for you!`
      return
    }
    case '/logme':
      if (useStore) {
        const s = currentSession(ctx)
        if (!s.logme) s.logme = true
        ctx.type = 'text/plain'
        ctx.body = ''
        return
      }
  }
  ctx.throw(404)
})

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/ : ${impl} (session timeout ${timeout} s)`)
})
