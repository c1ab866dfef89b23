// Events, requests and replies against a real nows server (see ../js_test.go
// for the routes).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect, NowsError } from "../nows.js";
import { open, next, record, control, eventually, rejection, url } from "./helpers.mjs";

const T = { timeout: 10000 };
const clients = [];
after(() => clients.forEach((c) => c.close()));

async function client(path = "/t/events") {
  const c = await open(path);
  clients.push(c);
  return c;
}

test("connects with nows.v1 and resolves a request with the reply's data", T, async () => {
  const c = await client();
  assert.equal(c.connected, true);
  assert.equal(c.url, url("/t/events"));
  assert.deepEqual(await c.request("echo", { text: "hi" }), { text: "hi" });
  assert.deepEqual(await c.request("add", { a: 2, b: 3 }), { sum: 5 });
});

test("emit sends an event the server handles", T, async () => {
  const c = await client();
  assert.equal(c.emit("count", { key: "emit", n: 1 }), true);
  assert.equal(c.emit("count", { key: "emit", n: 2 }), true);
  await eventually("the server counted 2 events", async () => (await control("/count?key=emit", "GET")).length === 2);
  assert.deepEqual(await control("/count?key=emit", "GET"), [1, 2]);
});

test("an error reply rejects with a NowsError: code, event, field", T, async () => {
  const c = await client();
  let err = await rejection(c.request("add", { a: "two", b: 3 }));
  assert.ok(err instanceof NowsError);
  assert.equal(err.code, "bad_payload");
  assert.equal(err.event, "add");
  assert.equal(err.field, "a");

  err = await rejection(c.request("add", { a: -1, b: 3 }));
  assert.equal(err.code, "invalid");
  assert.match(err.message, /a must not be negative/);

  err = await rejection(c.request("fail", {}));
  assert.equal(err.code, "out_of_stock");
  assert.equal(err.message, "no more");
  assert.equal(err.field, "item");

  err = await rejection(c.request("crash", {}));
  assert.equal(err.code, "internal");
  assert.doesNotMatch(err.message, /secret/);

  err = await rejection(c.request("no.such.event", {}));
  assert.equal(err.code, "unknown_event");
  assert.equal(err.event, "no.such.event");
});

test("an event the server refuses comes back as the error event", T, async () => {
  const c = await client();
  const got = next(c, "error");
  c.emit("no.such.event", {});
  const err = await got;
  assert.ok(err instanceof NowsError);
  assert.equal(err.code, "unknown_event");
  assert.equal(err.event, "no.such.event");
});

test("a request not answered in time rejects with timeout; the late reply is ignored", T, async () => {
  const c = await client();
  const start = Date.now();
  const err = await rejection(c.request("slow", { ms: 600 }, { timeout: 100 }));
  assert.equal(err.code, "timeout");
  assert.equal(err.event, "slow");
  assert.ok(Date.now() - start < 500, `timed out after ${Date.now() - start} ms`);
  const messages = record(c, "message");
  // The late reply arrives after 600 ms; the connection goes on.
  assert.deepEqual(await c.request("slow", { ms: 700 }), { slept: 700 });
  assert.deepEqual(messages, []);
  assert.equal(c.connected, true);
});

test("handle() answers the server's requests", T, async () => {
  const c = await client();
  c.handle("client.add", async ({ a, b }) => ({ sum: a + b }));
  c.handle("client.refuse", () => {
    throw new NowsError("not_now", "busy", { field: "when" });
  });
  c.handle("client.crash", () => {
    throw new Error("a bug with details");
  });
  c.handle("client.never", () => new Promise(() => {}));

  assert.deepEqual(await c.request("ask", { event: "client.add", data: { a: 4, b: 5 } }), { reply: { sum: 9 } });
  assert.deepEqual(await c.request("ask", { event: "client.refuse", data: {} }), {
    code: "not_now",
    message: "busy",
    field: "when",
  });
  const crash = await c.request("ask", { event: "client.crash", data: {} });
  assert.equal(crash.code, "internal");
  assert.doesNotMatch(crash.message, /details/);
  assert.equal((await c.request("ask", { event: "client.unknown", data: {} })).code, "unknown_event");
  assert.equal((await c.request("ask", { event: "client.never", data: {}, timeout: 200 })).code, "timeout");

  c.handle("client.add", null);
  assert.equal((await c.request("ask", { event: "client.add", data: { a: 1, b: 1 } })).code, "unknown_event");
});

test("a plain text message arrives as the message event", T, async () => {
  const c = await client();
  const got = next(c, "message");
  await c.request("plain", { text: "just text" });
  assert.equal(await got, "just text");
  const json = next(c, "message");
  await c.request("plain", { text: '{"name":"ada","text":"hi"}' });
  assert.equal(await json, '{"name":"ada","text":"hi"}');
});

test("a binary message arrives as the binary event, an ArrayBuffer", T, async () => {
  const c = await client();
  const got = next(c, "binary");
  await c.request("bytes", { text: "raw" });
  const buf = await got;
  assert.ok(buf instanceof ArrayBuffer);
  assert.equal(new TextDecoder().decode(buf), "raw");
});

test("on/off: listeners get the server's events until removed", T, async () => {
  const c = await client();
  await c.join("events-room");
  const seen = [];
  const fn = (m) => seen.push(m);
  c.on("room.message", fn);
  await c.request("shout", { room: "events-room", text: "one" });
  await eventually("the event arrived", () => seen.length === 1);
  c.off("room.message", fn);
  await c.request("shout", { room: "events-room", text: "two" });
  await c.request("echo", { text: "sync" }); // the broadcast came before this reply
  assert.deepEqual(seen, [{ room: "events-room", text: "one" }]);
});

test("join: accepted, refused (forbidden, forgotten), left", T, async () => {
  const c = await client();
  await c.join("lobby");
  assert.deepEqual(c.rooms, ["lobby"]);
  const err = await rejection(c.join("secret-1"));
  assert.equal(err.code, "forbidden");
  assert.deepEqual(c.rooms, ["lobby"]);
  assert.deepEqual(await c.request("rooms", {}), ["lobby"]);
  await c.leave("lobby");
  assert.deepEqual(c.rooms, []);
  assert.deepEqual(await c.request("rooms"), []); // no payload: no data member
});

test("a plain route fails the handshake (nows.v1 offered, none chosen): retried", T, async () => {
  // Browsers and Node fail a handshake whose answer names no subprotocol
  // when the client offered some: to the client it is a failed connect.
  const c = connect(url("/plain"), { minDelay: 20, maxDelay: 40 });
  clients.push(c);
  const reconnecting = record(c, "reconnecting");
  const connected = record(c, "connected");
  const disconnected = record(c, "disconnected");
  await eventually("a few attempts", () => reconnecting.length >= 3, 3000);
  assert.deepEqual(connected, []);
  assert.deepEqual(disconnected, []); // never connected, so never disconnected
  assert.equal(c.connected, false);
  c.close();
});

test("a relative URL needs a page; http maps to ws", T, async () => {
  assert.throws(() => connect("/t/x"), TypeError);
  const c = connect(`http://${new URL(url("/")).host}/t/events`, { minDelay: 20 });
  clients.push(c);
  assert.equal(c.url, url("/t/events"));
  await next(c, "connected");
});
