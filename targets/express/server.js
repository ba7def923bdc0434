// The seed examples of Twisted Web's session howtos on express-session with
// memorystore: every session is express-session's, kept in memorystore, made,
// found, refreshed and expired by them. This file only maps the seed
// resources onto req.session:
//
//   /          ShowSession: "Your session id is: " + req.sessionID
//   /expire    ExpireSession: req.session.destroy()
//   /logme     ExpirationLogger: marks the session once; memorystore's dispose
//              (called when an entry leaves the store: pruned, found stale,
//              or destroyed) logs the ids of marked sessions
//   /expired   the logged ids, one per line
//   /counter   the session-store example: a counter kept in req.session
//   /ws        a WebSocket (the ws package) attached to the session, the way
//              ws's own express-session example does it: the upgrade runs
//              the session middleware and is refused (403) unless the cookie
//              names a session the store has; "attached <id>" first, "ping"
//              gets "pong <id>"; /expire closes the session's sockets (4001),
//              as the example's logout does. GET /ws?id=<id> without an
//              upgrade: one line per socket of that session closed so far
//              (ws's 'close' event, once per socket), the detached feed
//   /.well-known/sessionspec  the discovery document
//
// The timeout is set express-session's way, cookie.maxAge, with rolling:
// true (every response resets it); memorystore takes each entry's TTL from
// it and prunes stale entries every checkPeriod. Neither has an injectable
// clock (Date.now()), so there is no /_clock.
//
// Usage: node server.js [--port P] [--timeout SECONDS] [--check-period MS]
//                       [--dispose-on-set] [--ws-close-on-dispose]
// --port 0 (the default) binds a free port; the line "... listening on
// http://127.0.0.1:P/ ..." on stdout says which, once the socket is bound.
// --dispose-on-set leaves memorystore's noDisposeOnSet at its default
// (false): dispose is then also called whenever a save overwrites an entry,
// i.e. on nearly every request (see README.md); the checked target sets
// noDisposeOnSet: true, the documented way to be told only of removals.
// --ws-close-on-dispose also closes a session's sockets from memorystore's
// dispose, i.e. when the store drops the session because it timed out; by
// default only /expire closes them, as in ws's example (and nothing closes
// them on a timeout: see targets/README.md).
'use strict'

const http = require('http')
const express = require('express')
const session = require('express-session')
const MemoryStore = require('memorystore')(session)
const { WebSocketServer } = require('ws')

function arg (name, def) {
  const i = process.argv.indexOf(name)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def
}
const port = Number(arg('--port', '0'))
const timeout = Number(arg('--timeout', '2'))
const checkPeriod = Number(arg('--check-period', '1000'))
const disposeOnSet = process.argv.includes('--dispose-on-set')
const wsCloseOnDispose = process.argv.includes('--ws-close-on-dispose')
if (!Number.isInteger(port) || !(timeout > 0) || !(checkPeriod > 0)) {
  console.error('usage: node server.js --port P [--timeout SECONDS] [--check-period MS] [--dispose-on-set] [--ws-close-on-dispose]')
  process.exit(2)
}

const version = (pkg) => require(pkg + '/package.json').version

// The ids whose expiry notification fired, in order.
const expired = []

const store = new MemoryStore({
  checkPeriod,
  noDisposeOnSet: !disposeOnSet,
  dispose (sid, value) {
    if (wsCloseOnDispose) closeSockets(sid)
    let sess
    try {
      sess = JSON.parse(value)
    } catch {
      return
    }
    if (sess && sess.logme) {
      expired.push(sid)
      console.log(`Session ${sid} has expired.`)
    }
  }
})

const sessions = session({
  secret: 'sessionspec: a fixed test secret',
  store,
  resave: false,
  saveUninitialized: true,
  rolling: true,
  cookie: { maxAge: timeout * 1000 }
})

// A request whose cookie names no session the store has gets a new one from
// store.generate (express-session's, set on the store by session() above):
// the socket's upgrade is refused then.
const generate = store.generate
store.generate = function (req) {
  req.sessionGenerated = true
  return generate.call(this, req)
}

// The open sockets of each session, and how many sockets of each session
// have closed (the detached feed).
const socketsOf = new Map()
const detached = new Map()

// closeSockets closes the sockets of the session sid (4001 "session expired").
function closeSockets (sid) {
  const set = socketsOf.get(sid)
  if (!set) return
  socketsOf.delete(sid)
  for (const ws of set) ws.close(4001, 'session expired')
}

const app = express()
app.disable('x-powered-by')

const discovery = {
  sessionspec: 1,
  implementation: `express-session ${version('express-session')} + memorystore ${version('memorystore')}` +
    ` (express ${version('express')}; rolling, checkPeriod ${checkPeriod} ms` +
    (disposeOnSet ? ', dispose on set' : '') + ')',
  cookie: 'connect.sid',
  timeout_seconds: timeout,
  paths: { session: '/', expire: '/expire', logme: '/logme', expired: '/expired', counter: '/counter', clock: '', ws: '/ws' }
}
if (wsCloseOnDispose) discovery.implementation += ' + ws ' + version('ws') + ' (sockets closed on dispose)'
else discovery.implementation += ' + ws ' + version('ws')
app.get('/.well-known/sessionspec', (req, res) => res.json(discovery))
app.get('/expired', (req, res) => res.type('text/plain').send(expired.map((id) => id + '\n').join('')))

app.get('/', sessions, (req, res) => {
  res.type('text/plain').send('Your session id is: ' + req.sessionID)
})

app.get('/expire', sessions, (req, res, next) => {
  const sid = req.sessionID
  req.session.destroy((err) => {
    if (err) return next(err)
    closeSockets(sid) // as ws's express-session example does on logout
    res.type('text/plain').send('Your session has been expired.')
  })
})

app.get('/logme', sessions, (req, res) => {
  if (!req.session.logme) req.session.logme = true
  res.type('text/plain').send('')
})

app.get('/counter', sessions, (req, res) => {
  req.session.count = (req.session.count || 0) + 1
  res.type('text/plain').send(`Visit #${req.session.count} for you!`)
})

app.get('/ws', (req, res) => {
  const ids = [].concat(req.query.id || [])
  if (ids.length === 0) {
    res.set({ Upgrade: 'websocket', Connection: 'Upgrade' })
    return res.status(426).type('text/plain').send('GET /ws upgrades to a WebSocket; GET /ws?id=<id> lists detached sockets')
  }
  res.type('text/plain').send(ids.map((id) => (String(id) + '\n').repeat(detached.get(String(id)) || 0)).join(''))
})

const server = http.createServer(app)
const wss = new WebSocketServer({ noServer: true, maxPayload: 512 })

function refuse (socket, status) {
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy())
  if (new URL(req.url, 'http://localhost').pathname !== '/ws') return refuse(socket, 404)
  sessions(req, {}, () => {
    if (!req.session || req.sessionGenerated) return refuse(socket, 403)
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
  })
})

wss.on('connection', (ws, req) => {
  const sid = req.sessionID
  let set = socketsOf.get(sid)
  if (!set) socketsOf.set(sid, (set = new Set()))
  set.add(ws)
  ws.on('error', () => {})
  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.close(1003, 'text messages only')
    ws.send(String(data) === 'ping' ? 'pong ' + sid : 'unknown message: send ping')
  })
  ws.on('close', () => {
    set.delete(ws)
    if (set.size === 0 && socketsOf.get(sid) === set) socketsOf.delete(sid)
    detached.set(sid, (detached.get(sid) || 0) + 1)
  })
  ws.send('attached ' + sid)
})

server.listen(port, '127.0.0.1', () => {
  console.log(`${discovery.implementation} listening on http://127.0.0.1:${server.address().port}/ (session timeout ${timeout} s)`)
})
