// Rooms with history: positions, rejoins with since, recovered and
// unrecovered, against a real nows server whose rooms "h.*" keep their last
// 20 messages in a memory store that outlives its restarts (see
// ../js_test.go). The Go side's Publisher sends while the server is down.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { open, next, record, control, eventually, sleep, url } from "./helpers.mjs";

const T = { timeout: 15000 };
const SIZE = 20; // the window of h.* (historyWindow)
const clients = [];
after(() => clients.forEach((c) => c.close()));

async function client(path, options) {
  const c = await open(path, options);
  clients.push(c);
  return c;
}

function send(room, from, to, kind = "event") {
  return control(`/send?room=${encodeURIComponent(room)}&from=${from}&to=${to}&kind=${kind}`);
}

// numbers records the n of each num event of room, with its position.
function numbers(c, room) {
  const seen = [];
  c.on("num", (d, at) => {
    assert.equal(at?.room, room, "a num event without its room");
    seen.push(d.n);
  });
  return seen;
}

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// restart restarts the server (with a new history store when fresh), down
// for 600 ms, and resolves once c is down, with {up}, a promise of c's
// next "connected" (wrapped: an async function returning a promise would
// wait for it): what is sent meanwhile, c misses.
async function restart(c, fresh = false) {
  const down = next(c, "disconnected");
  const up = next(c, "connected");
  await control(`/restart?down=600${fresh ? "&fresh=1" : ""}`);
  await down;
  return { up };
}

test("messages sent while away are recovered: each once, in order, and recovered fires", T, async () => {
  const c = await client("/t/recover");
  const seen = numbers(c, "h.one");
  const recovered = record(c, "recovered");
  const unrecovered = record(c, "unrecovered");
  const joined = await c.join("h.one");
  assert.equal(joined.room, "h.one");
  assert.equal(joined.recovered, false);
  assert.equal(typeof joined.pos.epoch, "string");
  await send("h.one", 1, 5);
  await eventually("1..5 live", () => seen.length === 5);

  const { up } = await restart(c);
  await send("h.one", 6, 15);
  await up;
  await eventually("6..15 recovered", () => seen.length >= 15);
  await send("h.one", 16, 18);
  await eventually("16..18 live", () => seen.length >= 18);
  await sleep(200); // a duplicate would come now
  assert.deepEqual(seen, range(1, 18));
  assert.equal(recovered.length, 1);
  assert.equal(recovered[0].room, "h.one");
  // The top when joined again: 6..15 were missed, not got live (the memory
  // store's offsets grow by one).
  assert.deepEqual(recovered[0].pos, { epoch: joined.pos.epoch, offset: joined.pos.offset + 15 });
  assert.deepEqual(unrecovered, []);
});

test("more than the window missed: unrecovered too_old, then live", T, async () => {
  const c = await client("/t/tooold");
  const seen = numbers(c, "h.two");
  const recovered = record(c, "recovered");
  await c.join("h.two");
  await send("h.two", 1, 2);
  await eventually("1..2 live", () => seen.length === 2);

  const { up } = await restart(c);
  const lost = next(c, "unrecovered");
  await send("h.two", 3, 3 + SIZE); // 21 messages: 3 has left the window
  const u = await lost;
  assert.equal(u.room, "h.two");
  assert.equal(u.reason, "too_old");
  await up;
  await send("h.two", 100, 101);
  await eventually("100..101 live", () => seen.length >= 4);
  await sleep(200);
  assert.deepEqual(seen, [1, 2, 100, 101]);
  assert.deepEqual(recovered, []);
});

test("a server that lost its history: unrecovered epoch", T, async () => {
  const c = await client("/t/epoch");
  const seen = numbers(c, "h.three");
  const joined = await c.join("h.three");
  await send("h.three", 1, 3);
  await eventually("1..3 live", () => seen.length === 3);

  const lost = next(c, "unrecovered");
  const { up } = await restart(c, true);
  const u = await lost;
  assert.equal(u.room, "h.three");
  assert.equal(u.reason, "epoch");
  assert.notEqual(u.pos.epoch, joined.pos.epoch);
  await up;
  await send("h.three", 4, 5);
  await eventually("4..5 live", () => seen.length >= 5);
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
});

// memoryStorage is what options.positions needs of sessionStorage.
class memoryStorage {
  items = new Map();
  getItem(k) {
    return this.items.has(k) ? this.items.get(k) : null;
  }
  setItem(k, v) {
    this.items.set(k, String(v));
  }
}

test("options.positions: a new client (a reloaded page) recovers from the stored position", T, async () => {
  const storage = new memoryStorage();
  const key = `nows:pos:${url("/t/reload")}:h.four`;
  const a = await client("/t/reload", { positions: storage });
  const seenA = numbers(a, "h.four");
  const joinedA = await a.join("h.four");
  assert.equal(joinedA.recovered, false);
  assert.deepEqual(JSON.parse(storage.getItem(key)), joinedA.pos);
  await send("h.four", 1, 3);
  await eventually("a got 1..3", () => seenA.length === 3);
  assert.deepEqual(JSON.parse(storage.getItem(key)), { epoch: joinedA.pos.epoch, offset: joinedA.pos.offset + 3 });
  a.close();
  await send("h.four", 4, 6);

  const b = await client("/t/reload", { positions: storage });
  const seenB = numbers(b, "h.four");
  const recovered = record(b, "recovered");
  const joinedB = await b.join("h.four");
  assert.equal(joinedB.recovered, true);
  assert.equal(joinedB.pos.epoch, joinedA.pos.epoch);
  await eventually("b got 4..6", () => seenB.length >= 3);
  await sleep(200);
  assert.deepEqual(seenB, [4, 5, 6]);
  assert.equal(recovered.length, 1);
  assert.deepEqual(JSON.parse(storage.getItem(key)), { epoch: joinedA.pos.epoch, offset: joinedA.pos.offset + 6 });

  // Another URL keeps its own positions: its first join sends none.
  const other = await client("/t/other", { positions: storage });
  const joinedO = await other.join("h.four");
  assert.equal(joinedO.recovered, false);
  assert.equal(recovered.length, 1);
});

test("nows.text and nows.binary come as message and binary, with the room", T, async () => {
  const c = await client("/t/raw");
  const texts = [];
  const bins = [];
  c.on("message", (m, at) => texts.push([m, at?.room]));
  c.on("binary", (b, at) => bins.push([[...new Uint8Array(b)], at?.room]));
  await c.join("h.raw");
  await send("h.raw", 7, 8, "text");
  await send("h.raw", 200, 201, "binary");
  await eventually("2 texts and 2 binaries", () => texts.length === 2 && bins.length === 2);
  assert.deepEqual(texts, [
    ["7", "h.raw"],
    ["8", "h.raw"],
  ]);
  assert.deepEqual(bins, [
    [[200], "h.raw"],
    [[201], "h.raw"],
  ]);

  // Missed ones come back the same way.
  const { up } = await restart(c);
  await send("h.raw", 9, 9, "text");
  await send("h.raw", 202, 202, "binary");
  await up;
  await eventually("the missed text and binary", () => texts.length === 3 && bins.length === 3);
  assert.deepEqual(texts[2], ["9", "h.raw"]);
  assert.deepEqual(bins[2], [[202], "h.raw"]);
});

test("nows.pos: the sender left out is not sent its own message when it recovers", T, async () => {
  const sender = await client("/t/whisper");
  const other = await client("/t/whisper");
  const mine = record(sender, "room.message");
  const theirs = record(other, "room.message");
  await sender.join("h.pos");
  await other.join("h.pos");
  await sender.request("whisper", { room: "h.pos", text: "mine" });
  await eventually("the other got it", () => theirs.length === 1);

  const seen = numbers(sender, "h.pos");
  const recovered = next(sender, "recovered");
  const { up } = await restart(sender);
  await send("h.pos", 1, 1);
  await recovered;
  await up;
  await eventually("1 after the restart", () => seen.length === 1);
  await sleep(200);
  assert.deepEqual(mine, []);
});
