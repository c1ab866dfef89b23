// nows.js: the client of the nows event protocol (nows.v1, docs/protocol.md)
// for browsers and Node. An ES module with no dependencies; its types are in
// nows.d.ts. A nows server serves both at /_nows/nows.js and /_nows/nows.d.ts.
//
//   import { connect } from "/_nows/nows.js";
//   const chat = connect("/chat/room/1");
//   chat.on("chat.message", (m) => show(m));
//   await chat.join("lobby");
//   const ack = await chat.request("chat.send", { text: "hi" });
//
// Rooms with history (docs/recovery-design.md): the client keeps the
// position of the last message it got from each room and joins again with
// it after a reconnect, so the server sends what it missed, once, in order;
// "recovered" and "unrecovered" say how that went.
//
// Node 20 has a WebSocket only with `node --experimental-websocket` (Node 22
// and later always); elsewhere pass options.WebSocket.

/** The WebSocket subprotocol the client offers. */
export const SUBPROTOCOL = "nows.v1";

/**
 * Close codes after which the client never reconnects: 1002 protocol error,
 * 1003 unsupported data, 1007 invalid data, 1008 policy violation, 1009
 * message too big. options.noRetryCodes adds to them.
 */
export const NO_RETRY_CODES = Object.freeze([1002, 1003, 1007, 1008, 1009]);

/** A connection that stays open this long (ms) resets the backoff. */
export const STABLE_AFTER = 5000;

const DEFAULTS = { minDelay: 250, maxDelay: 30000, bufferSize: 256, timeout: 10000 };
const POS_PREFIX = "nows:pos:"; // options.positions keys: nows:pos:<url>:<room>
const MAX_ID = Number.MAX_SAFE_INTEGER; // 2^53-1, the protocol's largest id
const OPEN = 1; // WebSocket.OPEN

/**
 * The error of a failed request, join or leave, of an error the server sent
 * about an event (the "error" event), and of emit when the send buffer is
 * full. code is the wire error's code ("bad_payload", "forbidden", an app's
 * code...) or one made by the client:
 *   "timeout"      no reply in time;
 *   "disconnected" the request had been sent when the connection dropped
 *                  (or close() was called): it may or may not have run;
 *   "buffer_full"  disconnected, and options.bufferSize messages already wait;
 *   "closed"       the client was closed with close();
 *   "cancelled"    a join still waiting when leave() was called for its room;
 *   "bad_subprotocol" the connection opened without nows.v1 (a plain route;
 *                  browsers and Node fail such a handshake instead, and the
 *                  client retries it as any failed connect).
 */
export class NowsError extends Error {
  /**
   * @param {string} code
   * @param {string} [message]
   * @param {{event?: string, field?: string}} [where]
   */
  constructor(code, message, where = {}) {
    super(message || code);
    this.name = "NowsError";
    /** @type {string} */
    this.code = code;
    /** @type {string|undefined} the event concerned */
    this.event = where.event;
    /** @type {string|undefined} the payload's member concerned */
    this.field = where.field;
  }
}

/**
 * Connects to a nows events route and keeps the connection up: see Client.
 * url is absolute (ws:, wss:, http: or https:; http maps to ws) or, in a
 * browser, relative to the page ("/chat/room/1").
 * @param {string|URL} url
 * @param {import("./nows.js").Options} [options]
 * @returns {Client}
 */
export function connect(url, options = {}) {
  return new Client(url, options);
}

/**
 * A client: one WebSocket at a time, reconnected with backoff until close().
 * Made by connect().
 */
class Client {
  #url;
  #opts;
  #WS;
  #noRetry;
  #ws = null; // the current socket, null between sockets
  #ready = false; // open, rooms joined again, buffer flushed
  #stopped = false;
  #attempt = 0; // reconnect attempts since the last stable connection
  #retryTimer = null;
  #openedAt = 0;
  #listeners = new Map(); // name -> Set of fns
  #handlers = new Map(); // event -> async fn answering server requests
  #nextId = 1;
  #pending = new Map(); // id -> {event, resolve, reject, timer, ws}
  #buffer = []; // {text, id?} waiting for a connection
  #rooms = new Set();
  #joinWaiters = new Map(); // room -> [{resolve, reject, timer}]
  #positions = new Map(); // room -> {epoch, offset}: the last message got
  #storage = null; // options.positions
  #loaded = new Set(); // rooms whose stored position was read

  /**
   * Use connect().
   * @param {string|URL} url
   * @param {object} options
   */
  constructor(url, options) {
    this.#url = resolveURL(url);
    this.#opts = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS)) {
      if (options[k] !== undefined) this.#opts[k] = options[k];
    }
    this.#noRetry = new Set([...NO_RETRY_CODES, ...(options.noRetryCodes || [])]);
    this.#WS = options.WebSocket || globalThis.WebSocket;
    if (options.positions != null) {
      const st = options.positions;
      if (typeof st.getItem !== "function" || typeof st.setItem !== "function") {
        throw new TypeError("nows: options.positions must have getItem and setItem, as sessionStorage has");
      }
      this.#storage = st;
    }
    if (typeof this.#WS !== "function") {
      throw new TypeError("nows: no WebSocket here: on Node 20 run node --experimental-websocket, or pass options.WebSocket");
    }
    this.#open();
  }

  /** The URL the client connects to (ws: or wss:). */
  get url() {
    return this.#url;
  }

  /** Whether the connection is up and ready: rooms joined again, buffer sent. */
  get connected() {
    return this.#ready;
  }

  /** The rooms the client is in (or joins again on reconnect). */
  get rooms() {
    return [...this.#rooms];
  }

  /**
   * Calls fn for each event of that name: a protocol event (fn gets its
   * data), or a connection event: "connected", "disconnected" ({code,
   * reason, willRetry}), "reconnecting" ({attempt, delay}), "message" (a text
   * message that is not an envelope: the string), "binary" (an ArrayBuffer),
   * "error" (a NowsError the server sent about an event, or a room refused
   * when joined again), "recovered" ({room, pos}: a join with a position
   * got back what the client missed; those messages follow), "unrecovered"
   * ({room, reason, pos}: messages of the room were lost, reason "epoch",
   * "too_old" or "unavailable"; the room goes on after pos).
   * A message of a room with history (a protocol event, "message" or
   * "binary") gives fn a second argument, {room, pos}: the room and the
   * message's position.
   * @param {string} name
   * @param {Function} fn
   * @returns {this}
   */
  on(name, fn) {
    if (typeof fn !== "function") throw new TypeError("nows: on: fn is not a function");
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(fn);
    return this;
  }

  /**
   * Removes fn from the event's listeners.
   * @param {string} name
   * @param {Function} fn
   * @returns {this}
   */
  off(name, fn) {
    const set = this.#listeners.get(name);
    if (set) {
      set.delete(fn);
      if (set.size === 0) this.#listeners.delete(name);
    }
    return this;
  }

  /**
   * Answers the server's requests for event with fn's result (fn may be
   * async). A NowsError thrown by fn becomes the reply's error with its code,
   * message and field; anything else thrown becomes "internal". A request for
   * an event without a handler gets "unknown_event". fn null removes it.
   * @param {string} event
   * @param {Function|null} fn
   * @returns {this}
   */
  handle(event, fn) {
    if (fn == null) this.#handlers.delete(event);
    else if (typeof fn !== "function") throw new TypeError("nows: handle: fn is not a function");
    else this.#handlers.set(event, fn);
    return this;
  }

  /**
   * Sends an event. Returns true when the message went to the socket, false
   * when it waits in the buffer for the next connection. Throws a NowsError
   * "buffer_full" when options.bufferSize messages already wait, "closed"
   * after close().
   * @param {string} event
   * @param {*} [payload]
   * @returns {boolean}
   */
  emit(event, payload) {
    this.#checkNotClosed(event);
    const text = JSON.stringify(envelope(event, 0, payload));
    if (this.#ready) {
      this.#ws.send(text);
      return true;
    }
    this.#push({ text }, event);
    return false;
  }

  /**
   * Sends a request and resolves with the reply's data; rejects with a
   * NowsError: the server's error, "timeout" after options.timeout (or
   * opts.timeout) ms, "disconnected" when the connection dropped after it
   * was sent, "buffer_full" or "closed" as for emit. While disconnected the
   * request waits in the buffer (its timeout runs). timeout 0 waits forever.
   * @param {string} event
   * @param {*} [payload]
   * @param {{timeout?: number}} [opts]
   * @returns {Promise<*>}
   */
  request(event, payload, opts = {}) {
    try {
      this.#checkNotClosed(event);
      return this.#call(event, payload, opts.timeout ?? this.#opts.timeout, false);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Joins a room: resolves when the server accepts (now, or when connected
   * again) with {room, pos, recovered}, rejects with the server's error
   * ("forbidden"...; the room is then forgotten) or "timeout" (the room
   * stays remembered: leave() forgets it). The client joins its rooms again
   * after every reconnect, before it sends its buffer, each with the
   * position of the last message it got from it (since), so that a room
   * with history sends what was missed. pos is the room's position when
   * joined (null: the room has no history); recovered is true when the
   * join had a position and the server sent back every message after it
   * (they follow). The first join of a room reads its position from
   * options.positions.
   * @param {string} room
   * @param {{timeout?: number}} [opts]
   * @returns {Promise<{room: string, pos: {epoch: string, offset: number}|null, recovered: boolean}>}
   */
  join(room, opts = {}) {
    try {
      this.#checkNotClosed("nows.join");
    } catch (err) {
      return Promise.reject(err);
    }
    this.#rooms.add(room);
    const timeout = opts.timeout ?? this.#opts.timeout;
    const p = this.#waitJoin(room, timeout);
    if (this.#socketOpen()) this.#sendJoin(this.#ws, room, timeout);
    return p;
  }

  /**
   * Leaves a room and forgets it, and its position: a later join starts
   * from the room's present. Resolves when the server confirms, or at once
   * while disconnected (the server dropped the membership with the
   * connection). A join of the room still waiting rejects with "cancelled".
   * @param {string} room
   * @param {{timeout?: number}} [opts]
   * @returns {Promise<void>}
   */
  leave(room, opts = {}) {
    this.#rooms.delete(room);
    this.#forgetPos(room);
    this.#settleJoin(room, new NowsError("cancelled", `left room ${JSON.stringify(room)}`, { event: "nows.join" }));
    if (!this.#socketOpen()) return Promise.resolve();
    return this.#call("nows.leave", { room }, opts.timeout ?? this.#opts.timeout, true).then(
      () => undefined,
      (err) => {
        if (err.code !== "disconnected") throw err;
      },
    );
  }

  /**
   * Closes the connection for good: no reconnect. Requests waiting reject
   * with "disconnected"; "disconnected" is emitted (willRetry false) when a
   * connection was up. In browsers code is 1000 (the default) or 3000-4999.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = "") {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    const ws = this.#ws;
    const wasOpen = this.#socketOpen();
    this.#ws = null;
    this.#ready = false;
    if (ws) {
      detach(ws);
      try {
        ws.close(code, reason);
      } catch {
        ws.close();
      }
    }
    this.#failPending(new NowsError("disconnected", "client closed"));
    for (const room of [...this.#joinWaiters.keys()]) {
      this.#settleJoin(room, new NowsError("closed", "client closed", { event: "nows.join" }));
    }
    if (wasOpen) this.#fire("disconnected", { code, reason, willRetry: false });
  }

  // --- connection ---

  #open() {
    this.#retryTimer = null;
    let ws;
    try {
      ws = new this.#WS(this.#url, [SUBPROTOCOL]);
    } catch (err) {
      this.#stop(); // a bad URL: retrying will not help
      throw err;
    }
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    this.#openedAt = 0;
    ws.onopen = () => this.#onOpen(ws);
    ws.onmessage = (e) => ws === this.#ws && this.#onMessage(ws, e.data);
    ws.onclose = (e) => this.#onClose(ws, e.code, e.reason);
    // Node 20's WebSocket fires error but no close when the handshake
    // fails, and calling close() from there recurses: a failure before open
    // ends the socket here; after open, close follows.
    ws.onerror = () => {
      if (ws === this.#ws && this.#openedAt === 0) this.#onClose(ws, 1006, "");
    };
  }

  #onOpen(ws) {
    if (ws !== this.#ws) return;
    this.#openedAt = Date.now();
    if (ws.protocol !== SUBPROTOCOL) {
      this.#fire("error", new NowsError("bad_subprotocol", `the server did not choose ${SUBPROTOCOL} on ${this.#url}`));
      detach(ws);
      ws.close(1000, "nows.v1 not chosen");
      this.#ended(ws, 1002, "nows.v1 not chosen", false);
      return;
    }
    this.#sync(ws);
  }

  // #sync joins the rooms again, then sends the buffer, then is ready.
  async #sync(ws) {
    await Promise.all([...this.#rooms].map((room) => this.#sendJoin(ws, room)));
    if (ws !== this.#ws || this.#stopped) return;
    while (this.#buffer.length > 0 && ws.readyState === OPEN) {
      const item = this.#buffer.shift();
      const p = item.id && this.#pending.get(item.id);
      if (p) p.ws = ws; // now in flight: fails with "disconnected" if ws drops
      ws.send(item.text);
    }
    if (ws.readyState !== OPEN) return; // its close comes
    this.#ready = true;
    this.#fire("connected");
  }

  #onClose(ws, code, reason) {
    if (ws !== this.#ws) return;
    detach(ws);
    const retry = !this.#stopped && !this.#noRetry.has(code);
    this.#ended(ws, code, reason, retry);
  }

  #ended(ws, code, reason, retry) {
    const wasOpen = this.#openedAt !== 0;
    const stable = wasOpen && Date.now() - this.#openedAt >= STABLE_AFTER;
    this.#ws = null;
    this.#ready = false;
    this.#failInFlight(ws);
    if (!retry) this.#stop();
    if (wasOpen || !retry) this.#fire("disconnected", { code, reason, willRetry: retry });
    if (!retry || this.#stopped) return; // a listener may have called close()
    if (stable) this.#attempt = 0;
    this.#attempt++;
    const cap = Math.min(this.#opts.maxDelay, this.#opts.minDelay * 2 ** Math.min(this.#attempt - 1, 30));
    const delay = Math.floor(Math.random() * cap); // full jitter
    this.#fire("reconnecting", { attempt: this.#attempt, delay });
    if (!this.#stopped) this.#retryTimer = setTimeout(() => this.#open(), delay);
  }

  // #stop ends for good: what waits in the buffer fails.
  #stop() {
    this.#stopped = true;
    this.#failPending(new NowsError("disconnected", "connection closed for good"));
    for (const room of [...this.#joinWaiters.keys()]) {
      this.#settleJoin(room, new NowsError("disconnected", "connection closed for good", { event: "nows.join" }));
    }
  }

  #socketOpen() {
    return this.#ws !== null && this.#openedAt !== 0 && this.#ws.readyState === OPEN;
  }

  #checkNotClosed(event) {
    if (this.#stopped) throw new NowsError("closed", "nows: the client is closed", { event });
  }

  // --- requests ---

  // #call sends a request now (direct: on the open socket, bypassing the
  // buffer; else when ready) or buffers it, and returns its promise.
  #call(event, payload, timeout, direct) {
    if (direct && !this.#socketOpen()) {
      return Promise.reject(new NowsError("disconnected", `not connected: ${event} not sent`, { event }));
    }
    const id = this.#nextId;
    this.#nextId = id >= MAX_ID ? 1 : id + 1;
    const text = JSON.stringify(envelope(event, id, payload));
    const sendNow = direct || this.#ready;
    if (!sendNow) this.#push({ text, id }, event); // throws when full
    return new Promise((resolve, reject) => {
      const p = { event, resolve, reject, timer: null, ws: sendNow ? this.#ws : null };
      if (timeout > 0 && timeout < Infinity) {
        p.timer = setTimeout(() => {
          this.#pending.delete(id);
          this.#unbuffer(id);
          reject(new NowsError("timeout", `no reply to ${event} in ${timeout} ms`, { event }));
        }, timeout);
      }
      this.#pending.set(id, p);
      if (sendNow) this.#ws.send(text);
    });
  }

  #push(item, event) {
    if (this.#buffer.length >= this.#opts.bufferSize) {
      throw new NowsError("buffer_full", `nows: disconnected and ${this.#opts.bufferSize} messages already wait`, { event });
    }
    this.#buffer.push(item);
  }

  #unbuffer(id) {
    const i = this.#buffer.findIndex((item) => item.id === id);
    if (i >= 0) this.#buffer.splice(i, 1);
  }

  // #failInFlight rejects the requests sent on ws.
  #failInFlight(ws) {
    for (const [id, p] of this.#pending) {
      if (p.ws === ws) {
        this.#pending.delete(id);
        clearTimeout(p.timer);
        p.reject(new NowsError("disconnected", `connection lost before the reply to ${p.event}`, { event: p.event }));
      }
    }
  }

  // #failPending rejects every request, buffered ones too, with err.
  #failPending(err) {
    this.#buffer = [];
    const all = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(new NowsError(err.code, err.message, { event: p.event }));
    }
  }

  // --- rooms ---

  #waitJoin(room, timeout) {
    return new Promise((resolve, reject) => {
      const w = { resolve, reject, timer: null };
      if (timeout > 0 && timeout < Infinity) {
        w.timer = setTimeout(() => {
          const list = this.#joinWaiters.get(room) || [];
          list.splice(list.indexOf(w), 1);
          if (list.length === 0) this.#joinWaiters.delete(room);
          reject(new NowsError("timeout", `no answer to the join of ${JSON.stringify(room)} in ${timeout} ms`, { event: "nows.join" }));
        }, timeout);
      }
      const list = this.#joinWaiters.get(room);
      if (list) list.push(w);
      else this.#joinWaiters.set(room, [w]);
    });
  }

  // #sendJoin sends a join on ws, with the room's position; it settles the
  // room's waiters. It never rejects: a refused room is forgotten and
  // reported.
  async #sendJoin(ws, room, timeout = this.#opts.timeout) {
    const since = this.#posOf(room);
    try {
      const data = await this.#call("nows.join", since ? { room, since } : { room }, timeout, true);
      this.#settleJoin(room, null, this.#joined(room, since, data));
    } catch (err) {
      if (err.code === "disconnected" || err.code === "timeout" || ws !== this.#ws) return;
      if (!this.#rooms.delete(room)) return; // left meanwhile
      if (this.#joinWaiters.has(room)) this.#settleJoin(room, err);
      else this.#fire("error", err); // refused when joined again
    }
  }

  #settleJoin(room, err, result) {
    const list = this.#joinWaiters.get(room);
    if (!list) return;
    this.#joinWaiters.delete(room);
    for (const w of list) {
      clearTimeout(w.timer);
      if (err) w.reject(err);
      else w.resolve(result);
    }
  }

  // #joined takes the reply to a join sent with since (null: none), tells
  // the app whether it recovered, and returns what join() resolves with.
  // After a recovered join the position stays since: the missed messages
  // follow the reply and move it, so a drop before they come loses none of
  // them. Otherwise the room goes on live after the reply's pos.
  #joined(room, since, data) {
    const pos = isPos(data?.pos) ? data.pos : null;
    const recovered = since !== null && pos !== null && data.recovered === true;
    if (pos && !recovered) this.#setPos(room, pos);
    if (recovered) this.#fire("recovered", { room, pos });
    else if (pos && data.recovered === false) {
      this.#fire("unrecovered", { room, reason: String(data.reason || "unavailable"), pos });
    }
    return { room, pos, recovered };
  }

  // --- positions ---

  // #posOf returns the position of the last message got from room, read
  // from options.positions the first time, or null.
  #posOf(room) {
    if (this.#storage && !this.#loaded.has(room)) {
      this.#loaded.add(room);
      if (!this.#positions.has(room)) {
        let pos = null;
        try {
          pos = JSON.parse(this.#storage.getItem(this.#posKey(room)));
        } catch {
          pos = null; // unreadable: join without
        }
        if (isPos(pos)) this.#positions.set(room, { epoch: pos.epoch, offset: pos.offset });
      }
    }
    return this.#positions.get(room) ?? null;
  }

  // #setPos moves room's position, for a room the client is in.
  #setPos(room, pos) {
    if (!this.#rooms.has(room)) return; // left: a message still on its way
    const p = { epoch: pos.epoch, offset: pos.offset };
    this.#positions.set(room, p);
    if (!this.#storage) return;
    this.#loaded.add(room); // newer than what is stored
    try {
      this.#storage.setItem(this.#posKey(room), JSON.stringify(p));
    } catch {
      // full or refused (private browsing): kept in memory still
    }
  }

  #forgetPos(room) {
    this.#positions.delete(room);
    if (!this.#storage) return;
    this.#loaded.add(room);
    try {
      this.#storage.removeItem?.(this.#posKey(room));
    } catch {
      // as in #setPos
    }
  }

  #posKey(room) {
    return POS_PREFIX + this.#url + ":" + room;
  }

  // --- incoming ---

  #onMessage(ws, data) {
    if (typeof data !== "string") {
      this.#fire("binary", data);
      return;
    }
    const env = parseEnvelope(data);
    if (!env) this.#fire("message", data);
    else if (env.reply !== undefined) this.#onReply(env);
    else if (env.event !== undefined && env.id !== undefined) this.#answer(ws, env);
    else if (env.event !== undefined) this.#onEvent(env);
    else this.#fire("error", wireError(env.error));
  }

  // #onEvent hands on an event; a message of a room with history (room and
  // pos) moves the room's position first, and its listeners get {room, pos}.
  #onEvent(env) {
    if (env.event === "nows.unrecovered") {
      const d = env.data;
      if (d === null || typeof d !== "object" || typeof d.room !== "string" || !isPos(d.pos)) return;
      this.#setPos(d.room, d.pos);
      this.#fire("unrecovered", { room: d.room, reason: String(d.reason || "unavailable"), pos: d.pos });
      return;
    }
    if (typeof env.room !== "string" || !isPos(env.pos)) {
      this.#fire(env.event, env.data);
      return;
    }
    const at = { room: env.room, pos: env.pos };
    this.#setPos(at.room, at.pos);
    switch (env.event) {
      case "nows.pos": // the client's own message, left out: position only
        return;
      case "nows.text":
        if (typeof env.data === "string") this.#fire("message", env.data, at);
        return;
      case "nows.binary":
        if (typeof env.data === "string") this.#fire("binary", fromBase64(env.data), at);
        return;
    }
    this.#fire(env.event, env.data, at);
  }

  #onReply(env) {
    const p = this.#pending.get(env.reply);
    if (!p) return; // late: it timed out
    this.#pending.delete(env.reply);
    clearTimeout(p.timer);
    if (env.error !== undefined) p.reject(wireError(env.error, p.event));
    else p.resolve(env.data);
  }

  async #answer(ws, env) {
    const fn = this.#handlers.get(env.event);
    let reply;
    if (!fn) {
      reply = { reply: env.id, error: { code: "unknown_event", message: `unknown event ${JSON.stringify(env.event)}`, event: env.event } };
    } else {
      try {
        reply = { reply: env.id, data: await fn(env.data) };
        if (reply.data === undefined) reply.data = null;
      } catch (err) {
        reply = { reply: env.id, error: replyError(err, env.event) };
      }
    }
    let text;
    try {
      text = JSON.stringify(reply);
    } catch {
      text = JSON.stringify({ reply: env.id, error: { code: "internal", message: "internal error", event: env.event } });
    }
    // A reply belongs to its connection: none after it dropped.
    if (ws === this.#ws && ws.readyState === OPEN) ws.send(text);
  }

  #fire(name, arg, at) {
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        if (at) fn(arg, at);
        else fn(arg);
      } catch (err) {
        setTimeout(() => {
          throw err; // reported as uncaught, without breaking the client
        });
      }
    }
  }
}

// resolveURL makes url absolute against the page (in a browser) and maps
// http(s) to ws(s).
function resolveURL(url) {
  let base;
  try {
    base = globalThis.location?.href; // a page or a worker; some runtimes throw
  } catch {
    base = undefined;
  }
  const u = base ? new URL(url, base) : new URL(url);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  else if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new TypeError(`nows: ${u.href}: want a ws:, wss:, http: or https: URL`);
  }
  u.hash = "";
  return u.href;
}

function detach(ws) {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}

// envelope builds an event (id 0) or a request, members in protocol order.
function envelope(event, id, payload) {
  if (typeof event !== "string" || event === "") throw new TypeError("nows: event must be a non-empty string");
  const env = { event };
  if (id) env.id = id;
  if (payload !== undefined) env.data = payload;
  return env;
}

// parseEnvelope returns the envelope in text, or null when text is not
// one (a plain message).
function parseEnvelope(text) {
  const c = text.trimStart()[0];
  if (c !== "{") return null;
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return null;
  if (Number.isInteger(v.reply) && v.event === undefined) return v;
  if (typeof v.event === "string" && v.reply === undefined) {
    if (v.id === undefined || Number.isInteger(v.id)) return v;
    return null;
  }
  if (v.error !== null && typeof v.error === "object" && v.event === undefined) return v;
  return null;
}

// isPos reports whether v is a position: {epoch: string, offset: integer}.
function isPos(v) {
  return v !== null && typeof v === "object" && typeof v.epoch === "string" && Number.isSafeInteger(v.offset) && v.offset >= 0;
}

// fromBase64 decodes the data of nows.binary into an ArrayBuffer, as the
// socket gives binary messages.
function fromBase64(s) {
  let bin;
  try {
    bin = atob(s);
  } catch {
    bin = ""; // not base64: the server never sends that
  }
  const b = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
  return b.buffer;
}

function wireError(e, event) {
  const o = e !== null && typeof e === "object" ? e : {};
  const code = typeof o.code === "string" && o.code ? o.code : "internal";
  return new NowsError(code, typeof o.message === "string" ? o.message : code, {
    event: typeof o.event === "string" ? o.event : event,
    field: typeof o.field === "string" ? o.field : undefined,
  });
}

// replyError turns what a handle() fn threw into a wire error.
function replyError(err, event) {
  if (!(err instanceof NowsError)) return { code: "internal", message: "internal error", event };
  const e = { code: err.code, message: err.message, event };
  if (err.field) e.field = err.field;
  return e;
}
