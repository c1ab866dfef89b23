// Reconnects, rejoins, the send buffer and the close codes, against a real
// nows server that the Go side restarts or closes on request (see
// ../js_test.go).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { open, next, record, control, eventually, rejection, sleep } from "./helpers.mjs";

const T = { timeout: 15000 };
const clients = [];
after(() => clients.forEach((c) => c.close()));

async function client(path, options) {
  const c = await open(path, options);
  clients.push(c);
  return c;
}

test("reconnects after the server restarts: disconnected, reconnecting, connected", T, async () => {
  const c = await client("/t/restart");
  const reconnecting = record(c, "reconnecting");
  const down = next(c, "disconnected");
  const up = next(c, "connected");
  await control("/restart?down=600");
  const d = await down;
  assert.equal(d.code, 1012);
  assert.equal(d.willRetry, true);
  assert.equal(c.connected, false);
  await up;
  assert.equal(c.connected, true);
  assert.ok(reconnecting.length >= 1, "no reconnecting event");
  assert.equal(reconnecting[0].attempt, 1);
  // Full jitter: attempt n waits 0 to min(maxDelay, minDelay * 2^(n-1)).
  for (const r of reconnecting) {
    const cap = Math.min(200, 20 * 2 ** (r.attempt - 1));
    assert.ok(r.delay >= 0 && r.delay <= cap, `attempt ${r.attempt}: delay ${r.delay} beyond ${cap}`);
  }
  assert.ok(reconnecting.length >= 3, `${reconnecting.length} attempts in 600 ms`);
  assert.deepEqual(
    reconnecting.map((r) => r.attempt),
    reconnecting.map((_, i) => i + 1),
  );
  assert.deepEqual(await c.request("echo", { text: "back" }), { text: "back" });
});

test("rooms are joined again after a restart; a room left is not", T, async () => {
  const c = await client("/t/rejoin");
  await c.join("lobby");
  await c.join("games");
  await c.leave("games");
  const up = next(c, "connected");
  await control("/restart?down=200");
  await up;
  // Joined again before "connected": the server's view right away.
  assert.deepEqual(await c.request("rooms", {}), ["lobby"]);
  const got = next(c, "room.message");
  await c.request("shout", { room: "lobby", text: "after restart" });
  assert.deepEqual(await got, { room: "lobby", text: "after restart" });
});

test("a join made while disconnected resolves once connected", T, async () => {
  const c = await client("/t/joinlater");
  const down = next(c, "disconnected");
  const up = next(c, "connected");
  await control("/restart?down=300");
  await down;
  const joined = c.join("later");
  const refused = rejection(c.join("secret-later"));
  await joined;
  assert.equal((await refused).code, "forbidden");
  await up;
  assert.deepEqual(c.rooms, ["later"]);
  assert.deepEqual(await c.request("rooms", {}), ["later"]);
});

test("sends buffered while disconnected are delivered exactly once", T, async () => {
  const c = await client("/t/buffer");
  for (let n = 0; n < 10; n++) assert.equal(c.emit("count", { key: "once", n }), true);
  await eventually("the server counted the first 10", async () => (await control("/count?key=once", "GET")).length === 10);

  const down = next(c, "disconnected");
  const up = next(c, "connected");
  await control("/restart?down=300");
  await down;
  for (let n = 10; n < 20; n++) assert.equal(c.emit("count", { key: "once", n }), false);
  const answer = c.request("echo", { text: "buffered request" });
  await up;
  assert.deepEqual(await answer, { text: "buffered request" });
  await eventually("the server counted 20", async () => (await control("/count?key=once", "GET")).length >= 20);
  await sleep(300); // a duplicate would come now
  const got = await control("/count?key=once", "GET");
  assert.deepEqual(got, [...Array(20).keys()]);
});

test("the buffer is bounded: emit throws buffer_full, request rejects", T, async () => {
  const c = await client("/t/full", { bufferSize: 3 });
  const down = next(c, "disconnected");
  const up = next(c, "connected");
  await control("/restart?down=300");
  await down;
  for (let n = 0; n < 3; n++) c.emit("count", { key: "full", n });
  assert.throws(
    () => c.emit("count", { key: "full", n: 3 }),
    (e) => e.code === "buffer_full" && e.event === "count",
  );
  assert.equal((await rejection(c.request("echo", { text: "x" }))).code, "buffer_full");
  await up;
  await eventually("the server counted 3", async () => (await control("/count?key=full", "GET")).length >= 3);
  await sleep(200);
  assert.deepEqual(await control("/count?key=full", "GET"), [0, 1, 2]);
});

test("a buffered request that times out is never sent", T, async () => {
  const c = await client("/t/expire");
  const down = next(c, "disconnected");
  const up = next(c, "connected");
  await control("/restart?down=400");
  await down;
  const p = c.request("count-request", { key: "expire", n: 1 }, { timeout: 50 });
  assert.equal((await rejection(p)).code, "timeout");
  await up;
  await c.request("echo", { text: "sync" });
  await sleep(200);
  assert.deepEqual(await control("/count?key=expire", "GET"), []);
});

test("requests in flight when the connection drops reject with disconnected", T, async () => {
  const c = await client("/t/inflight");
  // rejection() right away: a rejection nobody handles yet fails the run.
  const p1 = rejection(c.request("slow", { ms: 5000 }, { timeout: 8000 }));
  const p2 = rejection(c.request("slow", { ms: 5000 }, { timeout: 8000 }));
  await eventually("the server holds a slow request", async () => (await control("/slow", "GET")) >= 1);
  const start = Date.now();
  await control("/close?code=1011&path=/t/inflight");
  for (const p of [p1, p2]) {
    const err = await p;
    assert.equal(err.code, "disconnected");
    assert.equal(err.event, "slow");
  }
  assert.ok(Date.now() - start < 2000, `rejected after ${Date.now() - start} ms`);
  await next(c, "connected"); // 1011: reconnects
});

test("a connection lost without a close frame is 1006, and reconnects", T, async () => {
  const c = await client("/t/drop");
  const pending = rejection(c.request("slow", { ms: 5000 }));
  const down = next(c, "disconnected");
  const up = next(c, "connected");
  await control("/close?code=drop&path=/t/drop");
  assert.deepEqual(await down, { code: 1006, reason: "", willRetry: true });
  assert.equal((await pending).code, "disconnected");
  await up;
  assert.deepEqual(await c.request("echo", { text: "again" }), { text: "again" });
});

test("no reconnect after 1008", T, async () => {
  const c = await client("/t/policy");
  const reconnecting = record(c, "reconnecting");
  const pending = rejection(c.request("slow", { ms: 5000 }));
  const down = next(c, "disconnected");
  await control("/close?code=1008&path=/t/policy");
  const d = await down;
  assert.equal(d.code, 1008);
  assert.equal(d.willRetry, false);
  assert.equal((await pending).code, "disconnected");
  await sleep(500);
  assert.deepEqual(reconnecting, []);
  assert.equal(c.connected, false);
  await eventually("the server has no connection left", async () => (await control("/conns?path=/t/policy", "GET")) === 0);
  await sleep(300);
  assert.equal(await control("/conns?path=/t/policy", "GET"), 0);
  assert.throws(() => c.emit("count", { key: "policy", n: 1 }), (e) => e.code === "closed");
  assert.equal((await rejection(c.join("lobby"))).code, "closed");
});

test("noRetryCodes adds the app's codes; other 4xxx codes reconnect", T, async () => {
  const stay = await client("/t/app4001", { noRetryCodes: [4001] });
  const retry = await client("/t/app4002", { noRetryCodes: [4001] });
  const stayDown = next(stay, "disconnected");
  const retryUp = next(retry, "connected");
  const retryDown = next(retry, "disconnected");
  await control("/close?code=4001&path=/t/app4001");
  await control("/close?code=4002&path=/t/app4002");
  assert.deepEqual(await stayDown, { code: 4001, reason: "closed by the test", willRetry: false });
  assert.deepEqual(await retryDown, { code: 4002, reason: "closed by the test", willRetry: true });
  await retryUp;
});

test("close() stops for good, rejects what waits", T, async () => {
  const c = await client("/t/closed");
  const pending = rejection(c.request("slow", { ms: 5000 }));
  const down = next(c, "disconnected");
  c.close();
  assert.deepEqual(await down, { code: 1000, reason: "", willRetry: false });
  assert.equal((await pending).code, "disconnected");
  assert.equal(c.connected, false);
  await eventually("the server saw the close", async () => (await control("/conns?path=/t/closed", "GET")) === 0);
});
