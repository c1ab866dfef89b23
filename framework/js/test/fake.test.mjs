// nows.js against a fake WebSocket (options.WebSocket): the order of what
// it sends after a reconnect, and the backoff's reset, which a real server
// does not show.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { connect, STABLE_AFTER } from "../nows.js";

const T = { timeout: 5000 };

// FakeSocket records what the client sends; the test opens and closes it.
class FakeSocket {
  static all = [];
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = 0;
    this.protocol = "";
    this.sent = [];
    FakeSocket.all.push(this);
  }
  send(text) {
    if (this.readyState !== 1) throw new Error("send on a socket not open");
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.protocol = "nows.v1";
    this.onopen?.({});
  }
  fail() {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({ code: 1006, reason: "" });
  }
  serverClose(code) {
    this.readyState = 3;
    this.onclose?.({ code, reason: "" });
  }
  receive(v) {
    this.onmessage?.({ data: JSON.stringify(v) });
  }
}

let clients = [];
afterEach(() => {
  clients.forEach((c) => c.close());
  clients = [];
  FakeSocket.all = [];
});

function fake(options = {}) {
  const c = connect("ws://fake.test/t", { WebSocket: FakeSocket, minDelay: 5, maxDelay: 40, ...options });
  clients.push(c);
  return c;
}

// socket waits for the n-th socket (from 1) the client made.
async function socket(n) {
  for (let i = 0; i < 200 && FakeSocket.all.length < n; i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(FakeSocket.all.length >= n, `no socket #${n}`);
  return FakeSocket.all[n - 1];
}

function record(c, name) {
  const seen = [];
  c.on(name, (arg) => seen.push(arg));
  return seen;
}

const tick = () => new Promise((r) => setTimeout(r, 0));

test("offers nows.v1", T, async () => {
  fake();
  const ws = await socket(1);
  assert.equal(ws.url, "ws://fake.test/t");
  assert.deepEqual(ws.protocols, ["nows.v1"]);
});

test("after a reconnect: rooms joined first, then the buffer, never what the old socket got", T, async () => {
  const c = fake();
  const ws1 = await socket(1);
  ws1.open();
  await tick();
  const joined = c.join("r");
  assert.deepEqual(ws1.sent, [{ event: "nows.join", id: 1, data: { room: "r" } }]);
  ws1.receive({ reply: 1, data: { room: "r" } });
  await joined;
  c.emit("a", 1);
  ws1.serverClose(1012);
  assert.equal(c.emit("b", 2), false);

  const ws2 = await socket(2);
  let connected = false;
  c.on("connected", () => (connected = true));
  ws2.open();
  await tick();
  assert.deepEqual(ws2.sent, [{ event: "nows.join", id: 2, data: { room: "r" } }]);
  assert.equal(connected, false);
  ws2.receive({ reply: 2, data: { room: "r" } });
  await tick();
  assert.deepEqual(ws2.sent.slice(1), [{ event: "b", data: 2 }]);
  assert.equal(connected, true);
  assert.deepEqual(
    ws1.sent.map((m) => m.event),
    ["nows.join", "a"],
  );
});

test("the backoff grows with failed attempts and resets after a stable connection", T, async (t) => {
  const c = fake();
  const attempts = [];
  c.on("reconnecting", (r) => attempts.push(r.attempt));
  let now = Date.now();
  t.mock.method(Date, "now", () => now);

  (await socket(1)).open();
  (await socket(1)).serverClose(1011);
  (await socket(2)).fail();
  (await socket(3)).fail();
  const ws4 = await socket(4);
  ws4.open();
  ws4.serverClose(1011); // up for no time: no reset
  const ws5 = await socket(5);
  ws5.open();
  now += STABLE_AFTER;
  ws5.serverClose(1011); // up long enough: reset
  await socket(6);
  assert.deepEqual(attempts, [1, 2, 3, 4, 1]);
});

test("a server that chooses no subprotocol: bad_subprotocol, not retried", T, async () => {
  const c = fake();
  const errors = record(c, "error");
  const down = record(c, "disconnected");
  const ws = await socket(1);
  ws.readyState = 1; // open, but without nows.v1
  ws.onopen({});
  assert.equal(errors[0].code, "bad_subprotocol");
  assert.deepEqual(down, [{ code: 1002, reason: "nows.v1 not chosen", willRetry: false }]);
  assert.equal(ws.readyState, 3);
  assert.throws(() => c.emit("x", 1), (e) => e.code === "closed");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(FakeSocket.all.length, 1);
});

test("a reply to no waiting request is ignored; an unknown server request gets unknown_event", T, async () => {
  const c = fake();
  const ws = await socket(1);
  ws.open();
  await tick();
  const messages = [];
  c.on("message", (m) => messages.push(m));
  ws.receive({ reply: 99, data: 1 });
  ws.receive({ event: "who.knows", id: 7, data: {} });
  await tick();
  assert.deepEqual(ws.sent, [
    { reply: 7, error: { code: "unknown_event", message: 'unknown event "who.knows"', event: "who.knows" } },
  ]);
  assert.deepEqual(messages, []);
});

test("texts that are not envelopes are messages", T, async () => {
  const c = fake();
  const ws = await socket(1);
  ws.open();
  await tick();
  const messages = [];
  c.on("message", (m) => messages.push(m));
  for (const text of ["hi", "[1,2]", "null", '{"type":"chat"}', '{"event":1}', "{bad json"]) {
    ws.onmessage({ data: text });
  }
  assert.deepEqual(messages, ["hi", "[1,2]", "null", '{"type":"chat"}', '{"event":1}', "{bad json"]);
});

const P = (offset) => ({ epoch: "e1", offset });

// joinOpen opens socket 1 of a new client and joins room, answered with data.
async function joinOpen(c, room, data) {
  const ws = await socket(1);
  ws.open();
  await tick();
  const joined = c.join(room);
  const id = ws.sent.at(-1).id;
  ws.receive({ reply: id, data });
  return { ws, joined: await joined };
}

test("the position after a recovered join stays where it was until the missed messages come", T, async () => {
  const c = fake();
  const { ws: ws1, joined } = await joinOpen(c, "h", { room: "h", pos: P(3) });
  assert.deepEqual(joined, { room: "h", pos: P(3), recovered: false });
  ws1.receive({ event: "m", data: 4, room: "h", pos: P(4) });
  ws1.serverClose(1012);

  const ws2 = await socket(2);
  ws2.open();
  await tick();
  assert.deepEqual(ws2.sent, [{ event: "nows.join", id: 2, data: { room: "h", since: P(4) } }]);
  const recovered = record(c, "recovered");
  ws2.receive({ reply: 2, data: { room: "h", pos: P(9), recovered: true } });
  await tick();
  assert.deepEqual(recovered, [{ room: "h", pos: P(9) }]);
  ws2.serverClose(1012); // 5..9 never came: they are asked again

  const ws3 = await socket(3);
  ws3.open();
  await tick();
  assert.deepEqual(ws3.sent, [{ event: "nows.join", id: 3, data: { room: "h", since: P(4) } }]);
  ws3.receive({ reply: 3, data: { room: "h", pos: P(9), recovered: true } });
  ws3.receive({ event: "m", data: 5, room: "h", pos: P(5) });
  ws3.serverClose(1012);

  const ws4 = await socket(4);
  ws4.open();
  await tick();
  assert.deepEqual(ws4.sent[0].data, { room: "h", since: P(5) });
});

test("room messages: the position moves, listeners get {room, pos}; nows.unrecovered moves it too", T, async () => {
  const c = fake();
  const got = [];
  c.on("m", (d, at) => got.push([d, at]));
  const lost = record(c, "unrecovered");
  const { ws: ws1 } = await joinOpen(c, "h", { room: "h", pos: P(1) });
  ws1.receive({ event: "m", data: "live" });
  ws1.receive({ event: "m", data: "room", room: "h", pos: P(2) });
  ws1.receive({ event: "nows.pos", room: "h", pos: P(3) });
  ws1.receive({ event: "nows.unrecovered", data: { room: "h", reason: "epoch", pos: { epoch: "e2", offset: 7 } } });
  assert.deepEqual(got, [
    ["live", undefined],
    ["room", { room: "h", pos: P(2) }],
  ]);
  assert.deepEqual(lost, [{ room: "h", reason: "epoch", pos: { epoch: "e2", offset: 7 } }]);
  ws1.serverClose(1012);
  const ws2 = await socket(2);
  ws2.open();
  await tick();
  assert.deepEqual(ws2.sent[0].data, { room: "h", since: { epoch: "e2", offset: 7 } });
});

test("a join not recovered resolves recovered false, fires unrecovered, and goes on from its pos", T, async () => {
  const storage = { items: {}, getItem: (k) => storage.items[k] ?? null, setItem: (k, v) => (storage.items[k] = v) };
  storage.items["nows:pos:ws://fake.test/t:h"] = JSON.stringify(P(2));
  const c = fake({ positions: storage });
  const lost = record(c, "unrecovered");
  const ws = await socket(1);
  ws.open();
  await tick();
  const joined = c.join("h");
  assert.deepEqual(ws.sent, [{ event: "nows.join", id: 1, data: { room: "h", since: P(2) } }]);
  ws.receive({ reply: 1, data: { room: "h", pos: P(40), recovered: false, reason: "too_old" } });
  assert.deepEqual(await joined, { room: "h", pos: P(40), recovered: false });
  assert.deepEqual(lost, [{ room: "h", reason: "too_old", pos: P(40) }]);
  assert.equal(storage.items["nows:pos:ws://fake.test/t:h"], JSON.stringify(P(40)));
});

test("leave forgets the position: the next join has no since; a room without history has pos null", T, async () => {
  const c = fake();
  const { ws } = await joinOpen(c, "h", { room: "h", pos: P(1) });
  ws.receive({ event: "m", room: "h", pos: P(2) });
  const left = c.leave("h");
  ws.receive({ reply: ws.sent.at(-1).id, data: null });
  await left;
  ws.receive({ event: "m", room: "h", pos: P(3) }); // sent before the leave was read
  const joined = c.join("h");
  assert.deepEqual(ws.sent.at(-1).data, { room: "h" });
  ws.receive({ reply: ws.sent.at(-1).id, data: { room: "h" } });
  assert.deepEqual(await joined, { room: "h", pos: null, recovered: false });
});

test("options.positions must have getItem and setItem", T, () => {
  assert.throws(() => connect("ws://fake.test/t", { WebSocket: FakeSocket, positions: {} }), TypeError);
});
