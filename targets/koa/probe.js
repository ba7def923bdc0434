// By-hand evidence for targets/koa/README.md, over HTTP on 127.0.0.1: each
// scenario starts its own `node server.js --port 0 ...` (and stops it by its
// pid), and sends the Cookie header itself, so it can replay any cookie it
// held whatever the cookie's expires said.
//
//   node probe.js lifetime [--store] [--timeout 2] [--sessions 8]
//       when exactly a session made by GET /counter stops being accepted at
//       the server (its first cookie replayed on GET / every 10 ms), beside
//       the expires the cookie carried
//   node probe.js keep [--store] [--timeout 2] [--rolling|--renew] [--step MS]
//       GET / every MS (default TIMEOUT-003's: min(3/4 T, T - 1.25 s)) with the newest cookie: when each visit
//       got a new Set-Cookie, and when the session was lost, as the server
//       sees it (cookies replayed regardless of their expires) and as a
//       browser would (a cookie dropped at its expires)
//   node probe.js visits [--store] [--timeout 4] [--rolling|--renew] [--at 1000,4500]
//       GET /counter at 0, then GET / at each offset (ms): whether each
//       visit found the same session and got a Set-Cookie, server and browser
//   node probe.js expire [--store]
//       count 1, 2, 3, /expire, then replay the cookies held before
//   node probe.js notify [--timeout 2]
//       (store mode) /logme, then poll /expired every 50 ms: when the
//       notification fires after the session's last save
//   node probe.js cookie [--store]
//       the Set-Cookie headers of a first visit, decoded
'use strict'

const http = require('http')
const path = require('path')
const { spawn } = require('child_process')

const argv = process.argv.slice(2)
const scenario = argv[0] || 'lifetime'
const flag = (n) => argv.includes(n)
const opt = (n, d) => { const i = argv.indexOf(n); return i >= 0 ? argv[i + 1] : d }
const timeout = Number(opt('--timeout', '2'))
const serverFlags = ['--store', '--rolling', '--renew'].filter(flag)

function start (extra = serverFlags) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'server.js'), '--port', '0', '--timeout', String(timeout), ...extra],
      { stdio: ['ignore', 'pipe', 'inherit'] })
    let buf = ''
    child.stdout.on('data', (d) => {
      buf += d
      const m = buf.match(/listening on (http:\/\/127\.0\.0\.1:\d+\/)/)
      if (m && !child.url) { child.url = m[1]; resolve(child) }
    })
    child.on('exit', (c) => { if (!child.url) reject(new Error('server.js exited ' + c)) })
  })
}

function get (base, p, cookie) {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(p, base), { headers: cookie ? { Cookie: cookie } : {}, agent: false }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ at: Date.now(), status: res.statusCode, body, setCookie: res.headers['set-cookie'] || [] }))
    })
    req.on('error', reject)
  })
}

// The jar: name -> {value, expires (ms) or undefined}.
function absorb (jar, setCookie) {
  for (const line of setCookie) {
    const [nv, ...attrs] = line.split(';').map((s) => s.trim())
    const i = nv.indexOf('=')
    const name = nv.slice(0, i)
    const value = nv.slice(i + 1)
    const exp = attrs.find((a) => a.toLowerCase().startsWith('expires='))
    const expires = exp ? Date.parse(exp.slice(8)) : undefined
    if (value === '' || (expires !== undefined && expires <= Date.now())) jar.delete(name)
    else jar.set(name, { value, expires })
  }
}
function header (jar, honourExpires) {
  const now = Date.now()
  return [...jar].filter(([, c]) => !honourExpires || c.expires === undefined || c.expires > now)
    .map(([n, c]) => `${n}=${c.value}`).join('; ')
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const decode = (v) => { try { return JSON.parse(Buffer.from(v, 'base64').toString('utf8')) } catch { return v } }
const ms = (x) => (x / 1000).toFixed(3) + ' s'

async function lifetime (base) {
  const n = Number(opt('--sessions', '8'))
  console.log(`lifetime: timeout ${timeout} s, ${n} sessions, replayed every 10 ms until refused (mode ${flag('--store') ? 'store' : 'cookie'})`)
  console.log('#  answered (s mod 10)  cookie expires (s mod 10)  expires - answer  last accepted  first refused')
  for (let i = 1; i <= n; i++) {
    const jar = new Map()
    const r = await get(base, '/counter')
    absorb(jar, r.setCookie)
    const c = header(jar, false)
    const expires = jar.get('koa.sess').expires
    const id = (await get(base, '/', c)).body
    let last = r.at
    let refused
    for (;;) {
      await sleep(10)
      const again = await get(base, '/', c) // a read: saves nothing with rolling and renew false
      if (again.body !== id) { refused = again.at; break }
      last = again.at
    }
    console.log(`${i}  ${ms(r.at % 10000)}  ${ms(expires % 10000)}  ${ms(expires - r.at)}  +${ms(last - r.at)}  +${ms(refused - r.at)}`)
    await sleep(137 * i % 1000) // spread the starts over the second
  }
}

async function keep (base) {
  // TIMEOUT-003's spacing on the wall clock: min(3/4 T, T - 1.25 s)
  const step = Number(opt('--step', String(Math.round(Math.min(timeout * 750, timeout * 1000 - 1250)))))
  console.log(`keep: timeout ${timeout} s, GET / every ${step} ms, flags [${serverFlags.join(' ')}]`)
  for (const honour of [false, true]) {
    const jar = new Map()
    const first = await get(base, '/counter')
    absorb(jar, first.setCookie)
    const id = (await get(base, '/', header(jar, honour))).body
    const t0 = first.at
    const events = []
    let lost
    for (let i = 1; i <= 8; i++) {
      await sleep(step - (Date.now() - t0) % step)
      const r = await get(base, '/', header(jar, honour))
      if (r.body !== id) { lost = r.at - t0; break }
      events.push(`+${ms(r.at - t0)}:${r.setCookie.length ? 'Set-Cookie' : 'none'}`)
      absorb(jar, r.setCookie)
    }
    console.log(`  ${honour ? 'a browser (drops at expires)' : 'the server (replays)       '}: ${events.join(', ')}; ${lost === undefined ? 'alive after 8 visits' : 'lost at +' + ms(lost)}`)
  }
}

async function visits (base) {
  const at = opt('--at', '1000,4500').split(',').map(Number)
  console.log(`visits: timeout ${timeout} s, flags [${serverFlags.join(' ')}], GET /counter at 0, then GET / at +${at.join(', +')} ms`)
  for (const honour of [false, true]) {
    const jar = new Map()
    const first = await get(base, '/counter')
    absorb(jar, first.setCookie)
    const id = (await get(base, '/', header(jar, honour))).body
    const t0 = first.at
    const events = []
    for (const t of at) {
      await sleep(t0 + t - Date.now())
      const r = await get(base, '/', header(jar, honour))
      events.push(`+${ms(r.at - t0)}: ${r.body === id ? 'same session' : 'NEW session'}${r.setCookie.length ? ' (Set-Cookie)' : ''}`)
      absorb(jar, r.setCookie)
    }
    console.log(`  ${honour ? 'a browser (drops at expires)' : 'the server (replays)       '}: ${events.join('; ')}`)
  }
}

async function expire (base) {
  const jars = []
  let cookie
  for (let i = 1; i <= 3; i++) {
    const jar = new Map()
    const r = await get(base, '/counter', cookie)
    absorb(jar, r.setCookie)
    if (jar.size) cookie = header(jar, false)
    jars.push(cookie)
    console.log(`expire: GET /counter -> ${r.body}`)
  }
  const id = (await get(base, '/', cookie)).body
  const e = await get(base, '/expire', cookie)
  console.log(`expire: GET /expire -> ${e.body}; Set-Cookie ${e.setCookie.join(' | ')}`)
  const after = (await get(base, '/', cookie)).body
  console.log(`expire: the cookie held before /expire, replayed: GET / -> ${after === id ? 'the same session' : 'a new session'}; GET /counter -> ${(await get(base, '/counter', cookie)).body}`)
  console.log(`expire: the cookie of count 1, replayed: GET /counter -> ${(await get(base, '/counter', jars[0])).body}`)
}

async function notify (base) {
  const jar = new Map()
  const r = await get(base, '/logme')
  absorb(jar, r.setCookie)
  const key = jar.get('koa.sess').value
  console.log(`notify: GET /logme at 0 s made ${key}; cookie expires ${ms(jar.get('koa.sess').expires - r.at)} after the answer`)
  const t0 = r.at
  for (;;) {
    await sleep(50)
    const f = await get(base, '/expired')
    if (f.body.includes(key)) { console.log(`notify: /expired lists it at +${ms(f.at - t0)} (timeout ${timeout} s)`); break }
    if (f.at - t0 > (timeout + 15) * 1000) { console.log('notify: not listed after timeout + 15 s'); break }
  }
  const again = await get(base, '/', header(jar, false))
  console.log(`notify: its cookie replayed at +${ms(again.at - t0)}: ${again.body.includes(key) ? 'the same session' : 'a new session'}`)
}

async function cookie (base) {
  const r = await get(base, '/counter')
  for (const line of r.setCookie) {
    console.log('Set-Cookie: ' + line)
    const [nv] = line.split(';')
    if (nv.startsWith('koa.sess=')) console.log('  value decoded: ' + JSON.stringify(decode(nv.slice(9))))
  }
}

const scenarios = { lifetime, keep, visits, expire, notify, cookie }
if (!scenarios[scenario]) {
  console.error('usage: node probe.js lifetime|keep|visits|expire|notify|cookie [--store] [--timeout S] [--rolling|--renew]')
  process.exit(2)
}
const needsStore = scenario === 'notify'
start(needsStore && !flag('--store') ? [...serverFlags, '--store'] : serverFlags).then(async (child) => {
  try {
    await scenarios[scenario](child.url)
  } finally {
    process.kill(child.pid, 'SIGTERM')
  }
}).catch((err) => { console.error(err); process.exit(1) })
