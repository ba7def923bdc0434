// The seed examples of Twisted Web's session howtos on express-session with
// connect-redis, as one replica of a clustered site: start several of these
// on one Redis and every session is express-session's, kept in Redis by
// connect-redis, made, found, refreshed and destroyed by them, whichever
// replica a request reaches. This file only maps the seed resources onto
// req.session, the way targets/express/server.js does for memorystore:
//
//   /          ShowSession: "Your session id is: " + req.sessionID
//   /expire    ExpireSession: req.session.destroy() (connect-redis: DEL)
//   /logme     ExpirationLogger: marks the session once and has THIS REPLICA
//              watch it (adapter code, see below)
//   /expired   the ids this replica saw end, one per line
//   /counter   the session-store example: req.session.count incremented, as
//              express-session's own README does it (read the session, change
//              it, the whole session is written back at the end: no atomic
//              increment, by design of the store API)
//   /.well-known/sessionspec  the discovery document
//
// The timeout is set express-session's way, cookie.maxAge, with rolling:
// true and resave: false (connect-redis's README: "required: force
// lightweight session keep alive (touch)"). connect-redis stores each
// session as one JSON string under sess:<id> with SET ... EX and refreshes it
// with EXPIRE (touch), the TTL in whole seconds taken from cookie.expires:
// so it is Redis, on its own real clock, that ends a session.
//
// Neither express-session nor connect-redis runs any code when a session
// ends (connect-redis has get/set/touch/destroy and nothing else; Redis just
// drops the key). The notifications /expired lists are therefore ADAPTER
// CODE: the replica that served the first /logme of a session remembers its
// id in memory and asks the store (store.get, a plain GET) every --poll
// milliseconds; once the store no longer has it (Redis let it expire, or a
// replica destroyed it) this replica logs it, once. That is what an
// application on this stack would have to write itself, and it is exactly
// once across replicas only because one replica holds the registration (it
// is lost with that replica). The discovery document's implementation name
// says so.
//
// Usage: node server.js --redis redis://127.0.0.1:PORT/0 [--timeout SECONDS]
//                       [--port P] [--poll MS] [--name NAME] [--lazy-logme]
// The replica binds 127.0.0.1 (port 0 unless --port: the kernel picks a free
// one) and prints "listening on http://127.0.0.1:PORT/".
'use strict'

const http = require('http')
const express = require('express')
const session = require('express-session')
const { RedisStore } = require('connect-redis')
const { createClient } = require('redis')

function arg (name, def) {
  const i = process.argv.indexOf(name)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def
}
const port = Number(arg('--port', '0'))
const timeout = Number(arg('--timeout', '2'))
const pollEvery = Number(arg('--poll', '100'))
const redisURL = arg('--redis', '')
const name = arg('--name', String(process.pid))
const lazyLogme = process.argv.includes('--lazy-logme')
if (!Number.isInteger(port) || !(timeout > 0) || !(pollEvery > 0) || !/^redis:\/\//.test(redisURL)) {
  console.error('usage: node server.js --redis redis://HOST:PORT/DB [--timeout SECONDS] [--port P] [--poll MS] [--name NAME] [--lazy-logme]')
  process.exit(2)
}

// A package's version, read from its package.json file (connect-redis's
// "exports" does not export it).
const version = (pkg) =>
  JSON.parse(require('fs').readFileSync(require('path').join(__dirname, 'node_modules', pkg, 'package.json'), 'utf8')).version

const client = createClient({ url: redisURL })
client.on('error', (err) => console.error(`replica ${name}: redis: ${err.message}`))

const store = new RedisStore({ client })

const sessions = session({
  secret: 'sessionspec: a fixed test secret',
  store,
  resave: false,
  saveUninitialized: true, // the seed's page makes a session on the first visit
  rolling: true,
  cookie: { maxAge: timeout * 1000 }
})

// The adapter's stand-in for the expiry hook neither library has: the ids
// logged through this replica, and those it saw end, in order.
const watched = new Set()
const expired = []
let polling = false

async function poll () {
  if (polling) return
  polling = true
  try {
    for (const sid of [...watched]) {
      let sess
      try {
        sess = await store.get(sid)
      } catch (err) {
        console.error(`replica ${name}: poll: ${err.message}`)
        return
      }
      if (sess == null && watched.delete(sid)) {
        expired.push(sid)
        console.log(`Session ${sid} has expired.`)
      }
    }
  } finally {
    polling = false
  }
}

const app = express()
app.disable('x-powered-by')

const discovery = {
  sessionspec: 1,
  implementation: `express-session ${version('express-session')} + connect-redis ${version('connect-redis')}` +
    ` (redis ${version('redis')}, express ${version('express')}; rolling, resave false;` +
    ` expiry notifications: adapter polling every ${pollEvery} ms by the replica that logged the session, the libraries have no hook` +
    (lazyLogme ? '; /logme saved when the response ends)' : '; /logme saves before answering)'),
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

// The seed's logger page is empty. express-session saves a changed session
// when the response ends, holding back the body's last byte until the store
// has answered ("split response"); an empty body has no
// byte to hold back, so the client has the whole answer before connect-redis
// has written the session, and its next request, on another replica, can
// read the session from before the change (measured: cluster_probe.py
// --redis). express-session/index.js:264-375: res.end, writetop. So /logme saves explicitly before it answers, as express-session's
// README advises for redirects (session.save); --lazy-logme leaves it to
// express-session, to show the race.
app.get('/logme', sessions, (req, res, next) => {
  const answer = () => res.type('text/plain').send('')
  if (req.session.logme) return answer()
  req.session.logme = true
  const sid = req.sessionID
  if (lazyLogme) {
    watched.add(sid)
    return answer()
  }
  req.session.save((err) => {
    if (err) return next(err)
    watched.add(sid)
    answer()
  })
})

app.get('/counter', sessions, (req, res) => {
  req.session.count = (req.session.count || 0) + 1
  res.type('text/plain').send(`Visit #${req.session.count} for you!`)
})

// A store error (Redis unreachable) is a 503 with the reason in the log.
app.use((err, req, res, next) => {
  console.error(`replica ${name}: ${req.method} ${req.url}: ${err.message}`)
  res.status(503).type('text/plain').send('session store unavailable\n')
})

async function main () {
  await client.connect()
  const server = http.createServer(app)
  server.listen(port, '127.0.0.1', () => {
    const timer = setInterval(poll, pollEvery)
    const stop = () => {
      clearInterval(timer)
      server.close()
      server.closeAllConnections()
      client.destroy()
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
    const url = `http://127.0.0.1:${server.address().port}/`
    console.log(`replica ${name}: ${discovery.implementation}, session timeout ${timeout} s, store ${redisURL}`)
    console.log(`listening on ${url}`)
  })
}

main().catch((err) => {
  console.error(`replica ${name}: ${err.message}`)
  process.exit(2)
})
