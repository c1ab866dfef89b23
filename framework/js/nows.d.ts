// Types of nows.js, the client of the nows event protocol (nows.v1).
// A nows server serves this file at /_nows/nows.d.ts next to /_nows/nows.js.

/** The WebSocket subprotocol the client offers: "nows.v1". */
export const SUBPROTOCOL: "nows.v1";

/**
 * Close codes after which the client never reconnects: 1002, 1003, 1007,
 * 1008, 1009. Options.noRetryCodes adds to them.
 */
export const NO_RETRY_CODES: readonly number[];

/** A connection that stays open this long (ms) resets the reconnect backoff. */
export const STABLE_AFTER: number;

/** Options of connect. */
export interface Options {
  /** The first reconnect waits up to this long (ms); each next one up to twice as long. Default 250. */
  minDelay?: number;
  /** The cap of the reconnect backoff (ms). Default 30000. */
  maxDelay?: number;
  /** The app's close codes (4000-4999) after which the client does not reconnect, added to NO_RETRY_CODES. */
  noRetryCodes?: number[];
  /** How many messages (events and requests) wait at most while disconnected. Default 256. */
  bufferSize?: number;
  /** The default timeout of request and join (ms); 0 waits forever. Default 10000. */
  timeout?: number;
  /** The WebSocket constructor to use instead of globalThis.WebSocket. */
  WebSocket?: new (url: string, protocols?: string | string[]) => WebSocket;
  /**
   * Where the rooms' positions are kept besides memory, e.g. sessionStorage,
   * under "nows:pos:<url>:<room>": the first join of a room sends the stored
   * position, so a page reloaded gets back what it missed too. Default: in
   * memory only (a reconnect recovers, a reload does not).
   */
  positions?: PositionStorage;
}

/** Where Options.positions keeps positions: sessionStorage and localStorage fit. */
export interface PositionStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  /** Called by leave() when present. */
  removeItem?(key: string): void;
}

/**
 * The position of a message in a room with history: the client keeps the
 * last one of each room and sends it back when it joins again. Compare
 * nothing but equality: offsets grow, but not one by one.
 */
export interface Position {
  /** One life of the room's history: another epoch, another history. */
  epoch: string;
  offset: number;
}

/** The second argument of the listeners of a message of a room with history. */
export interface RoomMessage {
  room: string;
  /** The message's position in the room. */
  pos: Position;
}

/** What join resolves with. */
export interface JoinResult {
  room: string;
  /** The room's position when joined; null for a room without history. */
  pos: Position | null;
  /**
   * Whether the join had a position (after a reconnect, or one read from
   * Options.positions) and the server sends back every message after it:
   * they follow, then the live ones.
   */
  recovered: boolean;
}

/** The argument of the "recovered" event. */
export interface RecoveredEvent {
  room: string;
  /** The room's position when joined again: the missed messages up to it follow. */
  pos: Position;
}

/**
 * Why messages of a room were not recovered: "epoch" (the server lost the
 * room's history, or it is another one), "too_old" (a message missed has
 * left the room's window), "unavailable" (the server could not read it).
 */
export type UnrecoveredReason = "epoch" | "too_old" | "unavailable" | (string & {});

/** The argument of the "unrecovered" event. */
export interface UnrecoveredEvent {
  room: string;
  reason: UnrecoveredReason;
  /** Where the room goes on: messages before it may be missing. */
  pos: Position;
}

/** Options of one request, join or leave. */
export interface RequestOptions {
  /** How long to wait for the reply (ms); 0 waits forever. Default: Options.timeout. */
  timeout?: number;
}

/** The argument of the "disconnected" event. */
export interface DisconnectEvent {
  /** The close code (1006 when the connection was lost without one). */
  code: number;
  reason: string;
  /** Whether the client will reconnect. */
  willRetry: boolean;
}

/** The argument of the "reconnecting" event. */
export interface ReconnectEvent {
  /** The attempt's number since the last stable connection, from 1. */
  attempt: number;
  /** How long (ms) the client waits before it. */
  delay: number;
}

/**
 * The codes of NowsError: the protocol's (docs/protocol.md), the ones the
 * client makes, or an app's own.
 */
export type ErrorCode =
  | "bad_json"
  | "bad_envelope"
  | "unknown_event"
  | "bad_payload"
  | "invalid"
  | "forbidden"
  | "internal"
  | "timeout"
  | "disconnected"
  | "buffer_full"
  | "closed"
  | "cancelled"
  | "bad_subprotocol"
  | (string & {});

/**
 * The error of a failed request, join or leave; of an error the server sent
 * about an event (the "error" event); of emit when the buffer is full or the
 * client closed. Made by the client: "timeout" (no reply in time),
 * "disconnected" (sent, then the connection dropped: it may or may not have
 * run), "buffer_full" (disconnected with bufferSize messages waiting),
 * "closed" (after close()), "cancelled" (a join waiting when leave() was
 * called), "bad_subprotocol" (the connection opened without nows.v1: a plain
 * route, with a WebSocket that does not fail such a handshake as browsers
 * and Node do).
 */
export class NowsError extends Error {
  constructor(code: ErrorCode, message?: string, where?: { event?: string; field?: string });
  readonly name: "NowsError";
  /** The wire error's code, or one made by the client. */
  code: ErrorCode;
  /** The event concerned, when known. */
  event?: string;
  /** The payload's member concerned (bad_payload, or an app's error). */
  field?: string;
}

/** The connection events, by name, with their listener's argument. */
export interface ConnectionEvents {
  /** Connected (again), rooms joined again, the buffer sent. */
  connected: void;
  /** A connection ended, or the client gave up. */
  disconnected: DisconnectEvent;
  /** A reconnect is scheduled. */
  reconnecting: ReconnectEvent;
  /**
   * A text message that is not an envelope: a plain message. One sent to a
   * room with history comes with a RoomMessage as second argument.
   */
  message: string;
  /** A binary message; one of a room with history comes with a RoomMessage. */
  binary: ArrayBuffer;
  /** An error the server sent about an event, or a room refused when joined again. */
  error: NowsError;
  /** A join with a position recovered what the client missed (they follow). */
  recovered: RecoveredEvent;
  /** Messages of a room were lost: not recovered after a reconnect, or lost later. */
  unrecovered: UnrecoveredEvent;
}

/**
 * A client of one events route, made by connect: one WebSocket at a time,
 * reconnected with backoff (full jitter, capped at maxDelay) until close()
 * or a close code of NO_RETRY_CODES or noRetryCodes.
 */
export interface Client {
  /** The URL it connects to (ws: or wss:). */
  readonly url: string;
  /** Whether the connection is up: rooms joined again, buffer sent. */
  readonly connected: boolean;
  /** The rooms it is in, joined again after every reconnect. */
  readonly rooms: string[];

  /**
   * Listens to a connection event. "message" and "binary" listeners get a
   * RoomMessage as second argument for a message of a room with history.
   */
  on<K extends keyof ConnectionEvents>(name: K, fn: (arg: ConnectionEvents[K], at?: RoomMessage) => void): this;
  /**
   * Listens to the server's events of that name: fn gets their data, and a
   * RoomMessage for an event sent to a room with history.
   */
  on<T = any>(name: string, fn: (data: T, at?: RoomMessage) => void): this;
  /** Removes a listener added with on. */
  off(name: string, fn: (arg: any) => void): this;

  /**
   * Answers the server's requests for event with fn's result. A NowsError
   * thrown becomes the reply's error (code, message, field); anything else
   * thrown becomes "internal". null removes the handler.
   */
  handle<In = any, Out = any>(event: string, fn: ((data: In) => Out | Promise<Out>) | null): this;

  /**
   * Sends an event: true when handed to the socket, false when buffered for
   * the next connection. Throws a NowsError "buffer_full" when bufferSize
   * messages already wait, "closed" after close().
   */
  emit(event: string, payload?: unknown): boolean;

  /**
   * Sends a request; resolves with the reply's data, rejects with a
   * NowsError (the server's error, "timeout", "disconnected",
   * "buffer_full", "closed"). Buffered while disconnected; sent at most once.
   */
  request<T = any>(event: string, payload?: unknown, opts?: RequestOptions): Promise<T>;

  /**
   * Joins a room, remembered and joined again after every reconnect with
   * the position of the last message got from it, so that a room with
   * history sends what was missed ("recovered" or "unrecovered" tells how
   * that went). Resolves when the server accepts (at once or after the next
   * connect); rejects with the server's error (the room is then forgotten),
   * "timeout" (the room stays remembered), "cancelled" or "closed".
   */
  join(room: string, opts?: RequestOptions): Promise<JoinResult>;

  /**
   * Leaves a room and forgets it and its position (a later join starts
   * from the room's present); resolves at once while disconnected.
   */
  leave(room: string, opts?: RequestOptions): Promise<void>;

  /**
   * Closes for good: no reconnect; waiting requests reject with
   * "disconnected". In browsers code is 1000 or 3000-4999.
   */
  close(code?: number, reason?: string): void;
}

/**
 * Connects to a nows events route and keeps the connection up. url is
 * absolute (ws:, wss:, http: or https:, http mapping to ws) or, in a
 * browser, relative to the page ("/chat/room/1"). The client offers the
 * subprotocol nows.v1.
 */
export function connect(url: string | URL, options?: Options): Client;
