package redishistory

import "github.com/redis/go-redis/v9"

// The scripts keep a room's stream (KEYS[1]) and meta hash (KEYS[2]: e,
// the epoch; s, the offset of its last entry) together: each runs
// whole, so a reader never sees one without the other, and the feed
// carries an entry if and only if the stream took it.

// luaRoom opens a room: its epoch and top, made when the meta hash is
// missing (never written, flushed, evicted or expired). A new epoch
// starts with 16 hex digits of the server's TIME in nanoseconds, so that
// a room's epochs sort by age, then the caller's random hex. The old
// stream goes first: its IDs are above the new offsets, and XADD with an
// explicit ID does not go back. Lua numbers are doubles, exact to 2^53:
// the nanoseconds (about 2^61) are put together in two 32-bit halves.
const luaRoom = `
local function room(t, rnd, metaMs)
  local m = redis.call('HMGET', KEYS[2], 'e', 's')
  if m[1] then
    return m[1], tonumber(m[2])
  end
  local sec, us = tonumber(t[1]), tonumber(t[2])
  local a = math.floor(sec / 65536) * 1000000000
  local c = (a % 65536) * 65536 + (sec % 65536) * 1000000000 + us * 1000
  local hi = math.floor(a / 65536) + math.floor(c / 4294967296)
  local epoch = string.format('%08x%08x', hi, c % 4294967296) .. rnd
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'e', epoch, 's', 0)
  redis.call('PEXPIRE', KEYS[2], metaMs)
  return epoch, 0
end
local function num(n)
  return string.format('%d', n)
end
`

// appendScript adds one entry. ARGV: data, binary ("1" or "0"), except,
// size, TTL and Meta in milliseconds, random hex, the feed's channel,
// the room. It returns {epoch, offset, time in µs}. The feed message is
// the room, the epoch, except, offset, time and binary, each as
// "<length>:<bytes>", then the data (see decodeFeed).
var appendScript = redis.NewScript(appendSrc)

const appendSrc = luaRoom + `
local t = redis.call('TIME')
local epoch, top = room(t, ARGV[7], ARGV[6])
top = redis.call('HINCRBY', KEYS[2], 's', 1)
local us = num(tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], num(top) .. '-0',
  'd', ARGV[1], 'b', ARGV[2], 'x', ARGV[3], 't', us)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
local function field(s)
  return num(#s) .. ':' .. s
end
redis.call('PUBLISH', ARGV[8], field(ARGV[9]) .. field(epoch) .. field(ARGV[3]) ..
  field(num(top)) .. field(us) .. field(ARGV[2]) .. ARGV[1])
return {epoch, top, us}
`

// sinceScript reads a room. ARGV: the epoch and offset asked, how many
// entries, Meta in milliseconds, random hex. It returns {epoch, top, now
// in µs, entries}: the entries after the offset (XRANGE with an
// exclusive start) when the epoch is the room's, else none. The window
// is checked by the caller, against the server's clock.
var sinceScript = redis.NewScript(luaRoom + `
local t = redis.call('TIME')
local epoch, top = room(t, ARGV[5], ARGV[4])
local now = num(tonumber(t[1]) * 1000000 + tonumber(t[2]))
local es = {}
if ARGV[1] == epoch and tonumber(ARGV[3]) > 0 then
  es = redis.call('XRANGE', KEYS[1], '(' .. ARGV[2] .. '-0', '+', 'COUNT', ARGV[3])
end
return {epoch, top, now, es}
`)
