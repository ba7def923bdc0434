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
//   /.well-known/sessionspec  the discovery document
//
// The timeout is set express-session's way, cookie.maxAge, with rolling:
// true (every response resets it); memorystore takes each entry's TTL from
// it and prunes stale entries every checkPeriod. Neither has an injectable
// clock (Date.now()), so there is no /_clock.
//
// Usage: node server.js --port P [--timeout SECONDS] [--check-period MS]
//                       [--dispose-on-set]
// --dispose-on-set leaves memorystore's noDisposeOnSet at its default
// (false): dispose is then also called whenever a save overwrites an entry,
// i.e. on nearly every request (see README.md); the checked target sets
// noDisposeOnSet: true, the documented way to be told only of removals.
'use strict'

const express = require('express')
const session = require('express-session')
const MemoryStore = require('memorystore')(session)

function arg (name, def) {
  const i = process.argv.indexOf(name)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def
}
const port = Number(arg('--port', '8080'))
const timeout = Number(arg('--timeout', '2'))
const checkPeriod = Number(arg('--check-period', '1000'))
const disposeOnSet = process.argv.includes('--dispose-on-set')
if (!Number.isInteger(port) || !(timeout > 0) || !(checkPeriod > 0)) {
  console.error('usage: node server.js --port P [--timeout SECONDS] [--check-period MS] [--dispose-on-set]')
  process.exit(2)
}

const version = (pkg) => require(pkg + '/package.json').version

// The ids whose expiry notification fired, in order.
const expired = []

const store = new MemoryStore({
  checkPeriod,
  noDisposeOnSet: !disposeOnSet,
  dispose (sid, value) {
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

const app = express()
app.disable('x-powered-by')

const discovery = {
  sessionspec: 1,
  implementation: `express-session ${version('express-session')} + memorystore ${version('memorystore')}` +
    ` (express ${version('express')}; rolling, checkPeriod ${checkPeriod} ms` +
    (disposeOnSet ? ', dispose on set' : '') + ')',
  cookie: 'connect.sid',
  timeout_seconds: timeout,
  paths: { session: '/', expire: '/expire', logme: '/logme', expired: '/expired', counter: '/counter', clock: '' }
}
app.get('/.well-known/sessionspec', (req, res) => res.json(discovery))
app.get('/expired', (req, res) => res.type('text/plain').send(expired.map((id) => id + '\n').join('')))

app.get('/', sessions, (req, res) => {
  res.type('text/plain').send('Your session id is: ' + req.sessionID)
})

app.get('/expire', sessions, (req, res, next) => {
  req.session.destroy((err) => {
    if (err) return next(err)
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

app.listen(port, '127.0.0.1', () => {
  console.log(`${discovery.implementation} on http://127.0.0.1:${port}/ (session timeout ${timeout} s)`)
})
