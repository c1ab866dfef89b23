// Helpers of the nows.js tests. The Go test (../js_test.go) starts a nows
// server and its control endpoint, and passes them in the environment:
// NOWS_TEST_ADDR (host:port of the server) and NOWS_TEST_CONTROL (the
// control endpoint's base URL).
import { connect } from "../nows.js";

export const addr = need("NOWS_TEST_ADDR");
const controlURL = need("NOWS_TEST_CONTROL");

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests with go test ./framework/js`);
  return v;
}

/** url returns the server's URL for path. */
export function url(path) {
  return `ws://${addr}${path}`;
}

/**
 * control calls the Go side: POST /restart?down=ms, POST /close?code=N,
 * GET /count?key=K, GET /conns. Returns the parsed JSON answer.
 */
export async function control(path, method = "POST") {
  const res = await fetch(controlURL + path, { method, signal: AbortSignal.timeout(10000) });
  const body = await res.text();
  if (!res.ok) throw new Error(`control ${path}: ${res.status} ${body}`);
  return body ? JSON.parse(body) : null;
}

/**
 * open connects with short backoff and resolves once connected and once the
 * server has run the route's OnOpen (it runs in order with the events, so
 * after it the connection is in the control endpoint's list).
 */
export async function open(path, options = {}) {
  const c = connect(url(path), { minDelay: 20, maxDelay: 200, timeout: 3000, ...options });
  try {
    await next(c, "connected");
    await c.request("echo", { text: "opened" });
  } catch (err) {
    c.close();
    throw err;
  }
  return c;
}

/** next resolves with the argument of c's next event name, within ms. */
export function next(c, name, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off(name, fn);
      reject(new Error(`no "${name}" event in ${ms} ms`));
    }, ms);
    function fn(arg) {
      clearTimeout(timer);
      c.off(name, fn);
      resolve(arg);
    }
    c.on(name, fn);
  });
}

/** record collects the arguments of c's events name into an array. */
export function record(c, name) {
  const seen = [];
  c.on(name, (arg) => seen.push(arg));
  return seen;
}

/** eventually polls cond every 20 ms until it is true, or fails after ms. */
export async function eventually(what, cond, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(20);
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** rejection resolves with the error p rejects with; fails if p resolves. */
export async function rejection(p) {
  let v;
  try {
    v = await p;
  } catch (err) {
    return err;
  }
  throw new Error(`resolved with ${JSON.stringify(v)}, want a rejection`);
}
