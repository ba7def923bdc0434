package cluster

import (
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/sessionspec/sessionspec/reference"
)

// Every script begins with the same arguments and the same functions.
// ARGV[1] the key prefix, ARGV[2] the replica running it (whose feed a
// notification goes to), ARGV[3] the feed's bound in lines, ARGV[4] and
// ARGV[5] now on the replica's clock: Unix milliseconds, and nanoseconds
// past that millisecond (0..999999).
//
// Numbers in Redis's Lua are doubles: milliseconds up to 2^53 are exact
// (285,000 years), nanoseconds since 1970 would not be. So a time is
// always the pair, compared as a pair, and passed to Redis as the strings
// Go wrote (a Lua number would be written back as %.14g).
var prelude = fmt.Sprintf(`
local P, R, LIMIT = ARGV[1], ARGV[2], tonumber(ARGV[3])
local NOW_MS, NOW_NS = tonumber(ARGV[4]), tonumber(ARGV[5])
local DL, FRESH, BYTES = P..'deadlines', P..'fresh', P..'bytes'
local FEED, FIRED, DROPPED = P..'feed:'..R, P..'fired:'..R, P..'dropped:'..R
local MAXAPPS, MAXKEYS, BUDGET, OVERHEAD = %d, %d, %d, %d
local fired = {}

local function skey(uid) return P..'s:'..uid end

-- due: uid's deadline (its score in DL, milliseconds, and the nanoseconds
-- past it in its hash) is at or before now.
local function due(uid, score)
  if score < NOW_MS then return true end
  if score > NOW_MS then return false end
  local ns = tonumber(redis.call('HGET', skey(uid), 'dns') or '0')
  return ns <= NOW_NS
end

-- finish ends a live session: removes it, gives back its components'
-- bytes and, if it was logged, appends its notification to this
-- replica's feed, all in this one atomic script. A session already gone
-- is left alone, so no notification can fire twice.
local function finish(uid)
  if redis.call('ZREM', DL, uid) == 0 then return false end
  local k = skey(uid)
  local v = redis.call('HMGET', k, 'logged', 'b')
  redis.call('DEL', k)
  redis.call('ZREM', FRESH, uid)
  if v[2] then redis.call('DECRBY', BYTES, v[2]) end
  if v[1] then
    redis.call('RPUSH', FEED, uid)
    redis.call('HINCRBY', FIRED, uid, 1)
    if redis.call('LLEN', FEED) > LIMIT then
      local old = redis.call('LPOP', FEED)
      if redis.call('HINCRBY', FIRED, old, -1) <= 0 then redis.call('HDEL', FIRED, old) end
      redis.call('INCR', DROPPED)
    end
    fired[#fired+1] = uid
  end
  return true
end

-- component serves one request of the components resource on session key
-- k, within the bounds of package reference.
local function component(k, mode, app, key, val)
  local adapter = key == 'adapter'
  local field = 'c:'..app..':'..key
  if adapter then field = 'a:'..app end
  local cur = redis.call('HGET', k, field)
  if mode == 'get' then
    if cur then return {'ok', cur} end
    return {'unset', ''}
  end
  if mode == 'default' then return {'ok', cur or val} end
  if mode == 'adapter' and cur then return {'ok', cur} end
  local nfield = 'n:'..app
  local known = redis.call('HEXISTS', k, nfield) == 1
  if not cur then
    if not known and tonumber(redis.call('HGET', k, 'apps') or '0') >= MAXAPPS then return {'full', 'apps'} end
    if not adapter and tonumber(redis.call('HGET', k, nfield) or '0') >= MAXKEYS then return {'full', 'keys'} end
  end
  local size = #val
  if cur then size = size - #cur else size = size + OVERHEAD + #app + #key end
  if redis.call('INCRBY', BYTES, size) > BUDGET and size > 0 then
    redis.call('DECRBY', BYTES, size)
    return {'full', 'bytes'}
  end
  redis.call('HINCRBY', k, 'b', size)
  redis.call('HSET', k, field, val)
  if not cur then
    if not known then
      redis.call('HINCRBY', k, 'apps', 1)
      redis.call('HSET', k, nfield, 0)
    end
    if not adapter then redis.call('HINCRBY', k, nfield, 1) end
  end
  return {'ok', val}
end

-- apply does what the request came for, on the live session uid.
local function apply(uid, op, a1, a2, a3, a4)
  local k = skey(uid)
  if op == 'show' then return {'ok', ''} end
  if op == 'counter' then return {'ok', tostring(redis.call('HINCRBY', k, 'n', 1))} end
  if op == 'logme' then
    redis.call('HSETNX', k, 'logged', '1')
    return {'ok', ''}
  end
  if op == 'expire' then
    finish(uid)
    return {'ok', ''}
  end
  if op == 'comp' then return component(k, a1, a2, a3, a4) end
  return redis.error_reply('sessionspec: unknown operation '..tostring(op))
end
`, reference.MaxComponentApps, reference.MaxComponentKeys, reference.ComponentBudget, reference.ComponentOverhead)

// visitScript: the lookup of a request's cookie value, the refresh of its
// deadline and the request's operation, as one step.
//
// ARGV[6] uid, [7] "1" over TLS else "0", [8] [9] the new deadline
// (now + timeout: ms, ns), [10] the operation, [11..14] its arguments.
// Returns {status, value, fired uids}: status "miss" when there is no
// such live session (a session found past its deadline is ended here,
// and fires).
var visitScript = redis.NewScript(prelude + `
local uid = ARGV[6]
local score = redis.call('ZSCORE', DL, uid)
if not score then return {'miss', '', fired} end
score = tonumber(score)
local k = skey(uid)
if redis.call('HGET', k, 'sec') ~= ARGV[7] then return {'miss', '', fired} end
if due(uid, score) then
  finish(uid)
  return {'miss', '', fired}
end
-- A deadline only moves later: two replicas' visits may reach Redis in
-- either order.
local dms, dns = tonumber(ARGV[8]), tonumber(ARGV[9])
local cur = tonumber(redis.call('HGET', k, 'dns') or '0')
if dms > score or (dms == score and dns > cur) then
  redis.call('ZADD', DL, ARGV[8], uid)
  redis.call('HSET', k, 'dns', ARGV[9])
end
redis.call('ZREM', FRESH, uid)
local r = apply(uid, ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14])
return {r[1], r[2], fired}
`)

// createScript: a new session (ending one first on a full site) and the
// request's operation on it, as one step.
//
// ARGV[6] uid, [7] "1" over TLS else "0", [8] [9] its deadline, [10] the
// cap on live sessions (0: none), [11] the operation, [12..15] its
// arguments. Returns {status, value, fired uids}; status "taken" if the
// uid is a live session's (then nothing changed).
var createScript = redis.NewScript(prelude + `
local uid = ARGV[6]
if redis.call('ZSCORE', DL, uid) then return {'taken', '', fired} end
local max = tonumber(ARGV[10])
if max > 0 then
  local guard = 0
  while guard < 8 and redis.call('ZCARD', DL) >= max do
    guard = guard + 1
    -- A session past its deadline, else the oldest never visited again,
    -- else the least recently used (the earliest deadline).
    local head = redis.call('ZRANGE', DL, 0, 0, 'WITHSCORES')
    local victim = head[1]
    if not due(victim, tonumber(head[2])) then
      local f = redis.call('ZRANGE', FRESH, 0, 0)
      if f[1] then victim = f[1] end
      redis.call('INCR', P..'evicted')
    end
    finish(victim)
  end
end
local k = skey(uid)
redis.call('HSET', k, 'sec', ARGV[7], 'dns', ARGV[9])
redis.call('ZADD', DL, ARGV[8], uid)
if max > 0 then redis.call('ZADD', FRESH, redis.call('INCR', P..'seq'), uid) end
local r = apply(uid, ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15])
return {r[1], r[2], fired}
`)

// sweepScript ends at most a batch of sessions whose deadline has passed.
//
// ARGV[6] the batch, [7] how many sessions due in this very millisecond
// but not yet in its nanoseconds to skip (found so by the previous
// calls). Returns {more, ended, skipped, fired uids}: more is 1 when
// another call may find more.
var sweepScript = redis.NewScript(prelude + `
local batch, offset = tonumber(ARGV[6]), tonumber(ARGV[7])
local ended = 0
local sure = redis.call('ZRANGEBYSCORE', DL, '-inf', '('..ARGV[4], 'LIMIT', 0, batch)
for _, uid in ipairs(sure) do
  if finish(uid) then ended = ended + 1 end
end
if #sure == batch then return {1, ended, 0, fired} end
local room = batch - #sure
local edge = redis.call('ZRANGEBYSCORE', DL, ARGV[4], ARGV[4], 'LIMIT', offset, room)
local skipped = 0
for _, uid in ipairs(edge) do
  if due(uid, NOW_MS) then
    if finish(uid) then ended = ended + 1 end
  else
    skipped = skipped + 1
  end
end
local more = 0
if #edge == room then more = 1 end
return {more, ended, skipped, fired}
`)

// clockScript records now as the cluster's high-water virtual time if it
// is later, and returns the high-water mark {ms, ns}.
var clockScript = redis.NewScript(prelude + `
local k = P..'clock'
local cur = redis.call('HMGET', k, 'ms', 'ns')
if cur[1] then
  local cms, cns = tonumber(cur[1]), tonumber(cur[2])
  if cms > NOW_MS or (cms == NOW_MS and cns >= NOW_NS) then return {cur[1], cur[2]} end
end
redis.call('HSET', k, 'ms', ARGV[4], 'ns', ARGV[5])
return {ARGV[4], ARGV[5]}
`)

// joinScript checks that the replica joins a site run with the same
// clock, timeout and cap (or one with no live sessions, whose settings it
// then replaces) and records the replica's name.
//
// ARGV[6] "fake" or "real", [7] the timeout in nanoseconds, [8] the cap.
// Returns {} or the site's settings {clock, timeout, cap}.
var joinScript = redis.NewScript(prelude + `
local k = P..'site'
local cur = redis.call('HMGET', k, 'clock', 'timeout', 'max')
if cur[1] and (cur[1] ~= ARGV[6] or cur[2] ~= ARGV[7] or cur[3] ~= ARGV[8]) and redis.call('ZCARD', DL) > 0 then
  return {cur[1], cur[2], cur[3]}
end
redis.call('HSET', k, 'clock', ARGV[6], 'timeout', ARGV[7], 'max', ARGV[8])
redis.call('SADD', P..'replicas', R)
return {}
`)

// feedScript reads a replica's feed from line number ARGV[6] (lines are
// numbered from 0 as they were logged), at most ARGV[7] lines. Returns
// {dropped, next, from, lines}: the lines dropped from the start so far,
// the number the next line will get, and the number of the first line
// returned (ARGV[6], or the oldest line kept if ARGV[6] was dropped).
var feedScript = redis.NewScript(prelude + `
local dropped = tonumber(redis.call('GET', DROPPED) or '0')
local len = redis.call('LLEN', FEED)
local from = tonumber(ARGV[6])
if from < dropped then from = dropped end
local n = tonumber(ARGV[7])
local lines = {}
if n > 0 and from < dropped + len then
  lines = redis.call('LRANGE', FEED, from - dropped, from - dropped + n - 1)
end
return {dropped, dropped + len, from, lines}
`)
