// edgegate browser SDK: one ES module, no dependencies, no build step.
//
//   import { EdgeClient } from '/sdk/edgegate.js';
//   const c = new EdgeClient({ url: 'wss://host/v1/ws', token, onMessage: (m) => show(m.text) });
//   await c.connect();
//   await c.subscribe({ conversations: ['dm:alice:bob'], rooms: ['live:stream1'] });
//   const ack = await c.send('dm:alice:bob', 'hello'); // {seq, ...} once stored
//
// It needs the global WebSocket (browsers; Node >= 22, or Node 20 with
// --experimental-websocket), TextEncoder and crypto.getRandomValues.
//
// It speaks the same frames as the Go SDK (client/): an 8-byte header, an
// optional TLV extension block and a Protobuf payload, one frame per
// WebSocket binary message (see docs/PROTOCOL.md). The Protobuf codec is
// table-driven over schema.js, generated from the Go descriptors by
// `go test ./edge/webui -run TestSchemaUpToDate -update`;
// edge/webui/sdk_node_test.go checks under Node that its bytes equal Go's.
//
// 64-bit integers (seqs, times, ids) are plain JS Numbers: values above
// 2^53 are not supported (edgegate's seqs and millisecond times are far
// below). The SDK never asks for compression, so a compressed frame is a
// protocol error.

import { schema, frameTypes, enums } from './schema.js';

// ---------------------------------------------------------------------------
// Protobuf codec

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

const VARINT_KINDS = new Set(['bool', 'enum', 'int32', 'uint32', 'int64', 'uint64']);
const TWO_POW_32 = 2 ** 32;

const utf8Encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF, as Go does.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Lenient = new TextDecoder('utf-8', { ignoreBOM: true });

/** Frame type number -> message name. */
const typeNames = Object.fromEntries(Object.entries(frameTypes).map(([name, n]) => [n, name]));

/** Enum name -> number -> value name. */
const enumNames = Object.fromEntries(Object.entries(enums).map(([e, values]) =>
  [e, Object.fromEntries(Object.entries(values).map(([name, n]) => [n, name]))]));

/** Message name -> field number -> field. */
const fieldsByNumber = Object.fromEntries(Object.entries(schema).map(([m, fields]) =>
  [m, new Map(fields.map((f) => [f.number, f]))]));

/** A growable byte buffer for encoding. */
class Writer {
  constructor() {
    this.buf = new Uint8Array(64);
    this.len = 0;
  }

  ensure(n) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  byte(b) {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  bytes(b) {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Appends a varint; v is a non-negative safe integer, or a negative int64 (ten bytes). */
  varint(v) {
    if (!Number.isInteger(v)) throw new TypeError(`edgegate: ${v} is not an integer`);
    if (v < 0) {
      let big = BigInt.asUintN(64, BigInt(v));
      while (big >= 0x80n) {
        this.byte(Number(big & 0x7fn) | 0x80);
        big >>= 7n;
      }
      this.byte(Number(big));
      return;
    }
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }

  tag(number, wire) {
    this.varint(number * 8 + wire);
  }

  result() {
    return this.buf.slice(0, this.len);
  }
}

/** A cursor over bytes being decoded; every read checks bounds. */
class Reader {
  constructor(buf, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  done() {
    return this.pos >= this.end;
  }

  /** Reads a varint as a Number (exact below 2^53); signed64 reads int64 two's complement. */
  varint(signed64 = false) {
    let value = 0;
    let mult = 1;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw protocolError('truncated varint');
      const b = this.buf[this.pos++];
      value += (b & 0x7f) * mult;
      mult *= 0x80;
      if (b < 0x80) return i < 7 ? value : this.bigVarint(start, signed64);
    }
    throw protocolError('varint longer than 10 bytes');
  }

  /** Re-reads a long varint (8-10 bytes) exactly with BigInt. */
  bigVarint(start, signed64) {
    let big = 0n;
    let shift = 0n;
    for (let p = start; p < this.pos; p++) {
      big |= BigInt(this.buf[p] & 0x7f) << shift;
      shift += 7n;
    }
    big = signed64 ? BigInt.asIntN(64, big) : BigInt.asUintN(64, big);
    return Number(big);
  }

  skip(n) {
    if (n > this.end - this.pos) throw protocolError('truncated field');
    this.pos += n;
  }

  /** Reads a length prefix and returns [start, end] of the bytes it covers. */
  span() {
    const n = this.varint();
    const start = this.pos;
    this.skip(n);
    return [start, start + n];
  }

  /** Skips one field of wire type wire (number: the field's, for groups). */
  skipField(wire, number) {
    switch (wire) {
      case WIRE_VARINT: this.varint(); break;
      case WIRE_FIXED64: this.skip(8); break;
      case WIRE_LEN: this.span(); break;
      case WIRE_FIXED32: this.skip(4); break;
      case WIRE_START_GROUP: this.skipGroup(number); break;
      default: throw protocolError(`unexpected wire type ${wire}`);
    }
  }

  /** Skips the fields of a (deprecated) group up to its end-group tag. */
  skipGroup(number) {
    for (;;) {
      if (this.done()) throw protocolError('unterminated group');
      const key = this.varint();
      const n = Math.floor(key / 8);
      const wire = key % 8;
      if (wire === WIRE_END_GROUP) {
        if (n !== number) throw protocolError('mismatched end group');
        return;
      }
      this.skipField(wire, n);
    }
  }
}

/** An Error for malformed frames and payloads. */
function protocolError(msg) {
  const e = new Error(`edgegate: bad frame: ${msg}`);
  e.name = 'ProtocolError';
  return e;
}

function messageFields(name) {
  const fields = schema[name];
  if (!fields) throw new TypeError(`edgegate: unknown message type ${name}`);
  return fields;
}

function enumNumber(field, v) {
  if (typeof v === 'number') return v;
  const n = enums[field.enum][v];
  if (n === undefined) throw new TypeError(`edgegate: ${v} is not a ${field.enum}`);
  return n;
}

function toBytes(v) {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return utf8Encoder.encode(v);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError('edgegate: bytes must be a Uint8Array, ArrayBuffer or string');
}

/** Is v the proto3 default of a scalar field (omitted on encode)? */
function isDefault(field, v) {
  if (v === undefined || v === null) return true;
  switch (field.kind) {
    case 'string': return v === '';
    case 'bytes': return toBytes(v).length === 0;
    case 'bool': return !v;
    case 'enum': return enumNumber(field, v) === 0;
    case 'message': return false;
    default: return Number(v) === 0;
  }
}

function writeVarintValue(w, field, v) {
  switch (field.kind) {
    case 'bool': w.varint(v ? 1 : 0); break;
    case 'enum': w.varint(enumNumber(field, v)); break;
    default: w.varint(Number(v));
  }
}

function writeValue(w, field, v) {
  if (VARINT_KINDS.has(field.kind)) {
    w.tag(field.number, WIRE_VARINT);
    writeVarintValue(w, field, v);
    return;
  }
  w.tag(field.number, WIRE_LEN);
  let b;
  switch (field.kind) {
    case 'string': b = utf8Encoder.encode(String(v)); break;
    case 'bytes': b = toBytes(v); break;
    case 'message': b = encodeMessage(field.message, v); break;
    default: throw new TypeError(`edgegate: unsupported kind ${field.kind}`);
  }
  w.varint(b.length);
  w.bytes(b);
}

function writePacked(w, field, list) {
  const inner = new Writer();
  for (const v of list) writeVarintValue(inner, field, v);
  w.tag(field.number, WIRE_LEN);
  w.varint(inner.len);
  w.bytes(inner.result());
}

/**
 * Encodes a message object (lowerCamelCase field names) to Protobuf bytes,
 * exactly as Go's proto.Marshal does: fields in schema order (by number,
 * oneof members last), proto3 defaults omitted, repeated scalars packed, a
 * set oneof member always written (even when empty).
 * @param {string} typeName message name, e.g. 'Connect'
 * @param {object} obj
 * @returns {Uint8Array}
 */
export function encodeMessage(typeName, obj) {
  const w = new Writer();
  for (const field of messageFields(typeName)) {
    const v = obj?.[field.name];
    if (field.repeated) {
      if (!v || v.length === 0) continue;
      if (field.packed) writePacked(w, field, v);
      else for (const item of v) writeValue(w, field, item);
    } else if (field.oneof ? v !== undefined && v !== null : !isDefault(field, v)) {
      writeValue(w, field, v);
    }
  }
  return w.result();
}

function defaultValue(field) {
  if (field.repeated) return [];
  switch (field.kind) {
    case 'string': return '';
    case 'bytes': return new Uint8Array(0);
    case 'bool': return false;
    case 'enum': return enumNames[field.enum][0] ?? 0;
    case 'message': return null;
    default: return 0;
  }
}

function readVarintValue(r, field) {
  const n = r.varint(field.kind === 'int64' || field.kind === 'int32' || field.kind === 'enum');
  switch (field.kind) {
    case 'bool': return n !== 0;
    case 'enum': return enumNames[field.enum][n] ?? n;
    case 'uint32': return n % TWO_POW_32;
    default: return n;
  }
}

function readLenValue(r, field) {
  const [start, end] = r.span();
  switch (field.kind) {
    case 'string':
      try {
        return utf8Strict.decode(r.buf.subarray(start, end));
      } catch {
        throw protocolError(`field ${field.name}: invalid UTF-8`);
      }
    case 'bytes': return r.buf.slice(start, end);
    default: return decodeFrom(field.message, new Reader(r.buf, start, end));
  }
}

/** Reads one occurrence of field, of wire type wire, into obj. */
function readField(r, field, number, wire, obj) {
  const varintKind = VARINT_KINDS.has(field.kind);
  if (field.repeated && varintKind && wire === WIRE_LEN) {
    const [start, end] = r.span();
    const inner = new Reader(r.buf, start, end);
    while (!inner.done()) obj[field.name].push(readVarintValue(inner, field));
    return;
  }
  if (wire !== (varintKind ? WIRE_VARINT : WIRE_LEN)) {
    r.skipField(wire, number); // wrong wire type: an unknown field, as Go treats it
    return;
  }
  const v = varintKind ? readVarintValue(r, field) : readLenValue(r, field);
  if (field.repeated) obj[field.name].push(v);
  else obj[field.name] = v;
}

function decodeFrom(typeName, r) {
  const obj = {};
  for (const field of messageFields(typeName)) {
    if (!field.oneof) obj[field.name] = defaultValue(field);
  }
  const byNumber = fieldsByNumber[typeName];
  while (!r.done()) {
    const key = r.varint();
    const number = Math.floor(key / 8);
    const wire = key % 8;
    if (number === 0 || number >= 2 ** 29) throw protocolError(`invalid field number ${number}`);
    const field = byNumber.get(number);
    if (field) readField(r, field, number, wire, obj);
    else r.skipField(wire, number);
  }
  if (r.pos !== r.end) throw protocolError('truncated message');
  return obj;
}

/**
 * Decodes Protobuf bytes into a message object with every field present
 * (proto3 defaults filled in; unset oneof members absent). Unknown fields
 * are skipped. Enums decode to their value names. Throws on malformed input.
 * @param {string} typeName message name, e.g. 'Deliver'
 * @param {Uint8Array} bytes
 * @returns {object}
 */
export function decodeMessage(typeName, bytes) {
  return decodeFrom(typeName, new Reader(bytes));
}

// ---------------------------------------------------------------------------
// Frames

/** Frame header size in bytes. */
export const HEADER_SIZE = 8;
const FRAME_VERSION = 1;
const FLAG_COMPRESSED = 1;
const FLAG_ZSTD = 2;
const FLAG_EXTENSIONS = 4;
const KNOWN_FLAGS = FLAG_COMPRESSED | FLAG_ZSTD | FLAG_EXTENSIONS;
/** Default limit on a frame's length field, as transport.DefaultMaxFrameBytes. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

/**
 * Encodes one frame: header plus the Protobuf payload of obj. Byte for byte
 * what Go's transport.Encode(nil, m, nil) produces.
 * @param {string} typeName frame/message type, e.g. 'Send'
 * @param {object} obj message with lowerCamelCase field names
 * @returns {Uint8Array}
 */
export function encodeFrame(typeName, obj) {
  const type = frameTypes[typeName];
  if (type === undefined) throw new TypeError(`edgegate: ${typeName} is not a frame type`);
  const payload = encodeMessage(typeName, obj);
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  out[0] = FRAME_VERSION;
  out[1] = type;
  new DataView(out.buffer).setUint32(4, payload.length);
  out.set(payload, HEADER_SIZE);
  return out;
}

/** Parses the TLV extension block at the start of rest; returns [extensions, payload offset]. */
function parseExtensions(bytes, view, off) {
  if (bytes.length - off < 2) throw protocolError('missing extension length');
  const len = view.getUint16(off);
  off += 2;
  if (len > bytes.length - off) throw protocolError(`extension block of ${len} bytes, ${bytes.length - off} left`);
  const end = off + len;
  const ext = [];
  while (off < end) {
    if (end - off < 2 || bytes[off + 1] > end - off - 2) throw protocolError('truncated extension');
    const n = bytes[off + 1];
    ext.push({ type: bytes[off], value: bytes.slice(off + 2, off + 2 + n) });
    off += 2 + n;
  }
  return [ext, end];
}

/**
 * Decodes one complete frame (one WebSocket binary message). Throws an
 * Error named 'ProtocolError' on anything malformed: short or bad header,
 * length mismatch, unknown type, bad extensions, a compressed payload (this
 * SDK never accepts compression) or a bad Protobuf payload.
 * @param {Uint8Array|ArrayBuffer} data
 * @param {{maxFrameBytes?: number}} [opts]
 * @returns {{type: string, msg: object, ext: {type: number, value: Uint8Array}[]}}
 */
export function decodeFrame(data, opts = {}) {
  const bytes = data instanceof Uint8Array ? data : toBytes(data);
  const max = opts.maxFrameBytes || DEFAULT_MAX_FRAME_BYTES;
  if (bytes.length < HEADER_SIZE) throw protocolError(`header is ${bytes.length} bytes`);
  if (bytes[0] !== FRAME_VERSION) throw protocolError(`version ${bytes[0]}`);
  const typeName = typeNames[bytes[1]];
  if (!typeName) throw protocolError(`unknown frame type ${bytes[1]}`);
  const flags = bytes[2];
  if ((flags & ~KNOWN_FLAGS) !== 0 || bytes[3] !== 0 || ((flags & FLAG_ZSTD) && !(flags & FLAG_COMPRESSED))) {
    throw protocolError(`flags ${flags} reserved ${bytes[3]}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(4);
  if (n > max) throw protocolError(`frame of ${n} bytes, limit ${max}`);
  if (bytes.length - HEADER_SIZE !== n) throw protocolError(`length ${n}, have ${bytes.length - HEADER_SIZE} bytes`);
  let ext = [];
  let off = HEADER_SIZE;
  if (flags & FLAG_EXTENSIONS) [ext, off] = parseExtensions(bytes, view, off);
  if (flags & FLAG_COMPRESSED) throw protocolError('compressed payload (compression was not requested)');
  const msg = decodeFrom(typeName, new Reader(bytes, off, bytes.length));
  return { type: typeName, msg, ext };
}

// ---------------------------------------------------------------------------
// Client

const CLIENT_VERSION = 'edgegate-js/0.1';
const DEFAULTS = {
  minBackoffMs: 250,
  maxBackoffMs: 10000,
  ackIntervalMs: 250,
  ackEvery: 64,
  heartbeatMs: 0, // 0: the server's heartbeat_interval_ms, else 25000
  handshakeTimeoutMs: 10000,
};
const DEFAULT_HEARTBEAT_MS = 25000;
const SYNC_LIMIT = 256;
const MAX_HELD = 4096; // out-of-order messages held per conversation while a gap is filled
const MAX_SERVER_FRAME_BYTES = 16 << 20;
const ID_RE = /^[A-Za-z0-9._:@/-]{1,128}$/;

/**
 * An error reported by the server: an Error frame, or a close code
 * 4000+code.
 */
export class EdgeError extends Error {
  /**
   * @param {string} code ErrorCode name, e.g. 'ERROR_CODE_FORBIDDEN'
   * @param {string} reason the server's explanation
   * @param {number} [retryAfterMs]
   */
  constructor(code, reason, retryAfterMs = 0) {
    super(`edgegate: server error ${code}${reason ? `: ${reason}` : ''}`);
    this.name = 'EdgeError';
    /** ErrorCode name, e.g. 'ERROR_CODE_FORBIDDEN'. */
    this.code = code;
    /** The server's human-readable reason. */
    this.reason = reason;
    /** When set, retrying after this many ms may succeed. */
    this.retryAfterMs = retryAfterMs;
  }
}

function errorFromFrame(m) {
  return new EdgeError(String(m.code), m.reason, m.retryAfterMs);
}

function isAuthError(e) {
  return e instanceof EdgeError && (e.code === 'ERROR_CODE_UNAUTHENTICATED' || e.code === 'ERROR_CODE_TOKEN_EXPIRED');
}

function isRetryable(e) {
  return e instanceof EdgeError &&
    ['ERROR_CODE_RATE_LIMITED', 'ERROR_CODE_OVERLOADED', 'ERROR_CODE_UNAVAILABLE'].includes(e.code);
}

function closedError() {
  const e = new Error('edgegate: client closed');
  e.name = 'ClosedError';
  e.code = 'CLOSED';
  return e;
}

function checkId(kind, s) {
  if (typeof s !== 'string' || !ID_RE.test(s)) {
    throw new TypeError(`edgegate: invalid ${kind} id ${JSON.stringify(s)} (1-128 of [A-Za-z0-9._:@/-])`);
  }
}

function randomHex(bytes) {
  const b = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** A monotonic clock in ms, sub-millisecond where the platform allows. */
function monotonicMs() {
  return globalThis.performance ? globalThis.performance.now() : Date.now();
}

/** Uniform random delay in [0, min(max, min*2^attempt)] ms: exponential backoff, full jitter. */
function backoffDelay(minMs, maxMs, attempt) {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.floor(Math.random() * (ceiling + 1));
}

/** Converts a protocol Message to the object handed to onMessage. */
function appMessage(m) {
  let cls = m.conversation ? 'ordered' : 'live'; // DELIVERY_CLASS_UNSPECIFIED
  if (m.class === 'DELIVERY_CLASS_LIVE') cls = 'live';
  else if (m.class === 'DELIVERY_CLASS_ORDERED') cls = 'ordered';
  return {
    conversation: m.conversation,
    room: m.room,
    seq: m.seq,
    sender: m.sender,
    senderDevice: m.senderDevice,
    serverTimeMs: m.serverTimeMs,
    body: m.body,
    text: utf8Lenient.decode(m.body),
    clientMsgId: m.clientMsgId,
    class: cls,
  };
}

function presenceInfo(p) {
  return {
    conversation: p.conversation,
    room: p.room,
    users: p.users.map((u) => ({ userId: u.userId, devices: u.devices, online: u.online })),
    viewers: p.viewers,
  };
}

/** The connection ended because the server redirected us. */
class RedirectSignal extends Error {
  constructor(r) {
    super(`edgegate: redirected (${r.reason}) to ${r.urls.join(', ')}`);
    this.redirect = r;
  }
}

/**
 * One WebSocket connection: the Connect/Connected handshake, then frames
 * until it ends. `done` resolves with the cause of the end (never rejects).
 */
class Connection {
  constructor(client, url, token) {
    this.client = client;
    this.hello = null;
    this.roomLast = new Map(); // highest room seq seen on this connection
    this.syncs = new Map(); // SyncRequest id -> conversation
    this.lastErr = null; // last connection-level Error frame
    this.pingNonce = 0;
    this.pingSent = 0; // monotonic ms (performance.now) of the last Ping
    this.lastRecv = Date.now();
    this.maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
    this.timers = [];
    this.ended = false;
    this.done = new Promise((resolve) => { this.resolveDone = resolve; });
    this.open(url, token);
  }

  open(url, token) {
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      this.end(e);
      return;
    }
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    const hs = setTimeout(() => this.end(new Error('edgegate: handshake timeout')), this.client.opts.handshakeTimeoutMs);
    this.timers.push({ clear: () => clearTimeout(hs) });
    ws.onopen = () => {
      this.write('Connect', {
        token,
        resumeToken: this.client.resumeToken,
        positions: this.client.knownPositions(),
        deviceId: this.client.deviceId,
        compression: [],
        clientVersion: CLIENT_VERSION,
      });
    };
    ws.onmessage = (ev) => this.onFrame(ev.data);
    ws.onerror = () => {}; // onclose follows and carries the code
    ws.onclose = (ev) => this.end(this.closeError(ev.code, ev.reason));
  }

  closeError(code, reason) {
    if (code >= 4000 && code < 5000) {
      const name = enumNames.ErrorCode[code - 4000] ?? String(code - 4000);
      if (this.lastErr && this.lastErr.code === name) return errorFromFrame(this.lastErr);
      return new EdgeError(name, reason);
    }
    const e = new Error(`edgegate: connection closed (code ${code}${reason ? `, ${reason}` : ''})`);
    e.closeCode = code;
    return e;
  }

  /** Ends the connection with cause, closing the socket; only the first call counts. */
  end(cause) {
    if (this.ended) return;
    this.ended = true;
    for (const t of this.timers) t.clear();
    this.timers = [];
    const ws = this.ws;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      if (ws.readyState === 0 || ws.readyState === 1) {
        try {
          ws.close(1000);
        } catch { /* already closing */ }
      }
    }
    this.resolveDone(cause);
  }

  /** Encodes and sends a frame; false when the socket cannot take it. */
  write(type, msg) {
    if (this.ended || !this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(encodeFrame(type, msg));
    return true;
  }

  onFrame(data) {
    if (this.ended) return;
    this.lastRecv = Date.now();
    let f;
    try {
      if (!(data instanceof ArrayBuffer)) throw protocolError('text message');
      f = decodeFrame(new Uint8Array(data), { maxFrameBytes: this.maxFrameBytes });
    } catch (e) {
      this.end(e);
      return;
    }
    try {
      if (this.hello) this.client.handleFrame(this, f.type, f.msg);
      else this.handshakeFrame(f.type, f.msg);
    } catch (e) {
      this.end(e);
    }
  }

  handshakeFrame(type, m) {
    switch (type) {
      case 'Connected':
        this.hello = m;
        if (m.maxFrameBytes > this.maxFrameBytes) this.maxFrameBytes = Math.min(m.maxFrameBytes, MAX_SERVER_FRAME_BYTES);
        this.timers.shift().clear(); // the handshake timeout
        this.startHeartbeat();
        this.client.onConnected(this);
        break;
      case 'Error':
        this.end(errorFromFrame(m));
        break;
      case 'Redirect':
        this.end(new RedirectSignal(m));
        break;
      default: // ignore anything else before Connected
    }
  }

  startHeartbeat() {
    const hb = this.client.opts.heartbeatMs || this.hello.heartbeatIntervalMs || DEFAULT_HEARTBEAT_MS;
    this.heartbeatMs = hb;
    this.sendPing();
    const ping = setInterval(() => this.sendPing(), hb);
    const watch = setInterval(() => {
      if (Date.now() - this.lastRecv > 2 * hb) this.end(new Error('edgegate: no frame from the server for 2 heartbeat intervals'));
    }, Math.max(Math.floor(hb / 4), 1));
    this.timers.push({ clear: () => clearInterval(ping) }, { clear: () => clearInterval(watch) });
  }

  sendPing() {
    this.pingNonce++;
    this.pingSent = monotonicMs();
    this.write('Ping', { nonce: this.pingNonce, sentTimeMs: Date.now() });
  }

  onPong(p) {
    if (p.nonce === this.pingNonce && this.pingSent) {
      this.client.stats.rttMs = Math.round((monotonicMs() - this.pingSent) * 10) / 10;
    }
  }
}

/**
 * A connection to edgegate that reconnects by itself, resumes its session,
 * delivers conversation messages in order without gaps or duplicates
 * (across reconnects too) and re-sends unacknowledged messages.
 */
export class EdgeClient {
  /**
   * @param {object} opts
   * @param {string} opts.url ws(s)://host/v1/ws
   * @param {string} [opts.token] JWT; or
   * @param {() => Promise<string>} [opts.tokenProvider] called on every (re)connect
   * @param {string} [opts.deviceId] default: random, kept for the client's life
   * @param {(m: object) => void} [opts.onMessage] every delivered message
   * @param {(state: string, info: object) => void} [opts.onState]
   * @param {(p: object) => void} [opts.onPresence] server-pushed presence changes
   * @param {(e: EdgeError) => void} [opts.onError] Error frames not tied to a request
   * @param {number} [opts.minBackoffMs] default 250
   * @param {number} [opts.maxBackoffMs] default 10000
   * @param {number} [opts.ackIntervalMs] default 250
   * @param {number} [opts.ackEvery] default 64
   * @param {number} [opts.heartbeatMs] default: the server's, else 25000
   */
  constructor(opts) {
    if (!opts || !opts.url) throw new TypeError('edgegate: url is required');
    if (!opts.token && !opts.tokenProvider) throw new TypeError('edgegate: token or tokenProvider is required');
    this.opts = { ...DEFAULTS };
    for (const [k, v] of Object.entries(opts)) if (v !== undefined) this.opts[k] = v;
    this.opts.maxBackoffMs = Math.max(this.opts.maxBackoffMs, this.opts.minBackoffMs);
    this.deviceId = opts.deviceId || `js-${randomHex(8)}`;
    checkId('device', this.deviceId);
    this.url = opts.url;
    this.redirectUrls = []; // from the last Redirect, rotated through on failures
    this.redirectIndex = 0;
    this.resumeToken = '';
    this.maxMessageBytes = 0;

    this.convs = new Map(); // conversation -> {last, known, held: Map, syncing}
    this.subs = new Set(); // conversations the app subscribed to
    this.rooms = new Set(); // rooms the app joined
    this.pending = new Map(); // 'r:'+requestId | 'c:'+clientMsgId -> request
    this.order = 0;
    this.reqId = 0;
    this.msgCounter = 0;
    this.msgPrefix = `${this.deviceId.slice(0, 64)}-${randomHex(4)}`;

    this.dirty = new Set(); // conversations advanced since the last DeliveryAck
    this.sinceAck = 0;
    this.ackTimer = null;

    this.conn = null; // current connection after Connected
    this.closed = false;
    this.started = null;
    this.dialing = null; // connection in its handshake
    this.everConnected = false;
    this.sleepers = new Set(); // pending sleep() calls, woken by close()

    /** Live counters, read at will. */
    this.stats = {
      transport: 'websocket', state: 'connecting', rttMs: 0, reconnects: 0, delivered: 0, liveDropped: 0, nodeId: '',
      sent: 0, acked: 0, resent: 0, duplicateAcks: 0, duplicatesDropped: 0, gaps: 0, skipped: 0,
    };
  }

  /**
   * Starts the client. Resolves on the first Connected; rejects on a fatal
   * error (a rejected token, a forbidden origin) or when close() is called
   * first. Transient failures are retried with backoff meanwhile.
   * @returns {Promise<void>}
   */
  connect() {
    if (this.started) return this.started;
    if (this.closed) return Promise.reject(closedError());
    this.started = new Promise((resolve, reject) => {
      this.resolveStarted = resolve;
      this.rejectStarted = reject;
    });
    this.run().catch((e) => this.finish(e));
    return this.started;
  }

  /** The current position (last delivered seq) of every known conversation. */
  positions() {
    const out = {};
    for (const [conv, st] of this.convs) if (st.known) out[conv] = st.last;
    return out;
  }

  /**
   * Subscribes to conversations (delivery resumes after the client's
   * position, else the device's stored one on the server, else from the
   * start) and joins rooms. Kept across reconnects.
   * A conversation may be given as {conversation, seq} to start after seq.
   * @param {{conversations?: (string|{conversation: string, seq: number})[], rooms?: string[], fromHead?: boolean}} what
   * @returns {Promise<{requestId: number, conversations: {conversation: string, seq: number}[], rooms: {room: string, viewers: number}[]}>}
   */
  async subscribe({ conversations = [], rooms = [], fromHead = false } = {}) {
    const pos = conversations.map((c) => {
      if (typeof c === 'string') {
        checkId('conversation', c);
        return { conversation: c, seq: this.position(c) };
      }
      checkId('conversation', c.conversation);
      this.convs.set(c.conversation, { last: c.seq || 0, known: (c.seq || 0) > 0, held: new Map(), syncing: false });
      return { conversation: c.conversation, seq: c.seq || 0 };
    });
    rooms.forEach((r) => checkId('room', r));
    if (pos.length === 0 && rooms.length === 0) return { requestId: 0, conversations: [], rooms: [] };
    const sub = await this.roundTrip(() => {
      const id = ++this.reqId;
      return ['r:' + id, 'Subscribe', { requestId: id, conversations: pos, rooms, fromHead }];
    });
    for (const p of pos) this.subs.add(p.conversation);
    for (const r of rooms) this.rooms.add(r);
    return sub;
  }

  /**
   * Unsubscribes from conversations (forgetting their positions) and leaves rooms.
   * @param {{conversations?: string[], rooms?: string[]}} what
   */
  async unsubscribe({ conversations = [], rooms = [] } = {}) {
    conversations.forEach((c) => checkId('conversation', c));
    rooms.forEach((r) => checkId('room', r));
    await this.roundTrip(() => {
      const id = ++this.reqId;
      return ['r:' + id, 'Unsubscribe', { requestId: id, conversations, rooms }];
    });
    for (const c of conversations) {
      this.subs.delete(c);
      this.convs.delete(c);
      this.dirty.delete(c);
    }
    for (const r of rooms) this.rooms.delete(r);
  }

  /**
   * Sends a message to a conversation; resolves once the edge stored it.
   * Unacknowledged sends are re-sent after a reconnect with the same id
   * (the server deduplicates: duplicate is then true, seq the original).
   * RATE_LIMITED / OVERLOADED answers are retried after retry_after_ms.
   * @param {string} conversation
   * @param {string|Uint8Array} body a string is sent as UTF-8
   * @param {{clientMsgId?: string}} [opts]
   * @returns {Promise<{clientMsgId: string, conversation: string, seq: number, serverTimeMs: number, duplicate: boolean}>}
   */
  async send(conversation, body, opts = {}) {
    checkId('conversation', conversation);
    const a = await this.sendFrame({ conversation, class: 'DELIVERY_CLASS_ORDERED' }, body, opts.clientMsgId);
    return { clientMsgId: a.clientMsgId, conversation: a.conversation, seq: a.seq, serverTimeMs: a.serverTimeMs, duplicate: a.duplicate };
  }

  /**
   * Sends a live comment to a room; resolves once accepted for broadcast.
   * @param {string} room
   * @param {string|Uint8Array} body
   * @returns {Promise<{clientMsgId: string, room: string, seq: number, serverTimeMs: number}>}
   */
  async sendLive(room, body) {
    checkId('room', room);
    const a = await this.sendFrame({ room, class: 'DELIVERY_CLASS_LIVE' }, body);
    return { clientMsgId: a.clientMsgId, room: a.room, seq: a.seq, serverTimeMs: a.serverTimeMs };
  }

  /**
   * Asks who is online in a conversation or room.
   * @param {{conversation?: string, room?: string}} what
   * @returns {Promise<{conversation: string, room: string, users: {userId: string, devices: number, online: boolean}[], viewers: number}>}
   */
  async presence({ conversation = '', room = '' } = {}) {
    if (conversation) checkId('conversation', conversation);
    if (room) checkId('room', room);
    const p = await this.roundTrip(() => {
      const id = ++this.reqId;
      return ['r:' + id, 'PresenceQuery', { requestId: id, conversation, room }];
    });
    return presenceInfo(p);
  }

  /**
   * Closes the client: flushes a last DeliveryAck, closes the socket and
   * rejects pending requests. State becomes 'closed'.
   */
  close() {
    this.finish(null);
  }

  // --- internals ------------------------------------------------------------

  position(conv) {
    const st = this.convs.get(conv);
    return st && st.known ? st.last : 0;
  }

  knownPositions() {
    const out = [];
    for (const [conv, st] of this.convs) if (st.known && st.last > 0) out.push({ conversation: conv, seq: st.last });
    return out;
  }

  convState(conv) {
    let st = this.convs.get(conv);
    if (!st) {
      st = { last: 0, known: false, held: new Map(), syncing: false };
      this.convs.set(conv, st);
    }
    return st;
  }

  setState(state, info = {}) {
    this.stats.state = state;
    this.callback('onState', state, info);
  }

  /** Calls an application callback; its exceptions are logged, never break the client. */
  callback(name, ...args) {
    const f = this.opts[name];
    if (!f) return;
    try {
      f(...args);
    } catch (e) {
      console.error(`edgegate: ${name} threw`, e);
    }
  }

  /** Sleeps ms, or less if close() interrupts. */
  sleep(ms) {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const s = {
        wake: () => {
          clearTimeout(s.timer);
          this.sleepers.delete(s);
          resolve();
        },
      };
      s.timer = setTimeout(s.wake, ms);
      this.sleepers.add(s);
    });
  }

  nextUrl(failed) {
    if (failed && this.redirectUrls.length > 1) {
      this.redirectIndex = (this.redirectIndex + 1) % this.redirectUrls.length;
      this.url = this.redirectUrls[this.redirectIndex];
    }
    return this.url;
  }

  /** The manager loop: connect, serve, decide, back off, repeat. */
  async run() {
    let attempt = 0;
    let authRetried = false;
    let resumeRetried = false;
    let connectedOnce = false;
    let wait = 0;
    let failedBefore = false;
    this.setState('connecting', { attempt: 0, delayMs: 0 });
    for (;;) {
      await this.sleep(wait);
      if (this.closed) return;
      let cause;
      let conn = null;
      try {
        const token = this.opts.tokenProvider ? await this.opts.tokenProvider() : this.opts.token;
        if (this.closed) return;
        conn = new Connection(this, this.nextUrl(failedBefore), token);
        this.dialing = conn;
        cause = await conn.done;
      } catch (e) {
        cause = e;
      }
      this.dialing = null;
      if (this.closed) return;
      const connected = conn !== null && conn.hello !== null;
      if (connected) {
        attempt = 0;
        authRetried = resumeRetried = false;
        connectedOnce = true;
        this.onDisconnected(conn);
      }
      failedBefore = !connected;

      let immediate = false;
      let retryAfter = 0;
      if (cause instanceof RedirectSignal) {
        const urls = cause.redirect.urls.filter((u) => u);
        if (urls.length > 0) {
          this.redirectUrls = urls;
          this.redirectIndex = 0;
          this.url = urls[0];
        }
        failedBefore = false;
        immediate = true;
        retryAfter = Math.min(cause.redirect.retryAfterMs, this.opts.maxBackoffMs);
      } else if (cause instanceof EdgeError) {
        retryAfter = cause.retryAfterMs;
        if (isAuthError(cause)) {
          if (!this.opts.tokenProvider || authRetried) return this.finish(cause);
          authRetried = immediate = true;
        } else if (cause.code === 'ERROR_CODE_RESUME_REJECTED') {
          this.resumeToken = '';
          if (!resumeRetried) resumeRetried = immediate = true;
        } else if (['ERROR_CODE_BAD_FRAME', 'ERROR_CODE_BAD_REQUEST', 'ERROR_CODE_FORBIDDEN'].includes(cause.code)) {
          return this.finish(cause);
        }
      }
      if (immediate) {
        wait = retryAfter;
      } else {
        wait = Math.max(backoffDelay(this.opts.minBackoffMs, this.opts.maxBackoffMs, attempt), retryAfter);
        attempt++;
      }
      this.setState(connectedOnce ? 'reconnecting' : 'connecting', { attempt, delayMs: wait, error: cause });
    }
  }

  /** Called synchronously when a connection got Connected, before any later frame. */
  onConnected(conn) {
    const hello = conn.hello;
    if (this.everConnected) this.stats.reconnects++;
    this.everConnected = true;
    this.conn = conn;
    if (hello.resumeToken) this.resumeToken = hello.resumeToken;
    this.maxMessageBytes = hello.maxMessageBytes;
    this.stats.nodeId = hello.nodeId;
    for (const st of this.convs.values()) {
      st.held = new Map();
      st.syncing = false;
    }
    this.setState('connected', { resumed: hello.resumed, nodeId: hello.nodeId, attempt: 0 });
    if (this.resolveStarted) {
      this.resolveStarted();
      this.resolveStarted = this.rejectStarted = null;
    }
    this.resubscribe(conn);
    this.resendPending(conn);
  }

  onDisconnected(conn) {
    if (this.conn === conn) this.conn = null;
    if (this.ackTimer) {
      clearTimeout(this.ackTimer);
      this.ackTimer = null;
    }
  }

  /** Re-subscribes everything the app subscribed to, from each conversation's position. */
  resubscribe(conn) {
    if (this.subs.size === 0 && this.rooms.size === 0) return;
    const id = ++this.reqId;
    const sub = {
      requestId: id,
      conversations: [...this.subs].map((c) => ({ conversation: c, seq: this.position(c) })),
      rooms: [...this.rooms],
    };
    const req = {
      type: 'Subscribe', msg: sub, order: ++this.order, sentOn: conn,
      internal: (_, err) => {
        if (!err) return;
        console.warn('edgegate: resubscribe failed', err);
        if (err instanceof EdgeError && err.code !== 'ERROR_CODE_RATE_LIMITED') {
          sub.conversations.forEach((p) => this.subs.delete(p.conversation));
          sub.rooms.forEach((r) => this.rooms.delete(r));
        }
      },
    };
    this.pending.set('r:' + id, req);
    conn.write('Subscribe', sub);
  }

  /** Sends the requests not yet sent on conn, oldest first; drops old internal ones. */
  resendPending(conn) {
    const list = [];
    for (const [key, r] of this.pending) {
      if (r.internal && r.sentOn !== conn) {
        this.pending.delete(key);
      } else if (r.sentOn !== conn) {
        r.sentOn = conn;
        list.push(r);
        if (r.type === 'Send') this.stats.resent++;
      }
    }
    list.sort((a, b) => a.order - b.order);
    for (const r of list) this.writeRequest(conn, r);
  }

  /** Writes a request, failing a Send whose frame exceeds the server's limit. */
  writeRequest(conn, r) {
    if (r.type === 'Send') {
      const limit = conn.hello.maxFrameBytes;
      const size = encodeMessage('Send', r.msg).length;
      if (limit > 0 && size > limit) {
        this.resolve('c:' + r.msg.clientMsgId, null,
          new EdgeError('ERROR_CODE_TOO_LARGE', `frame of ${size} bytes exceeds the server's limit of ${limit}`));
        return;
      }
    }
    if (conn.write(r.type, r.msg) && r.type === 'Send') this.stats.sent++;
  }

  /** Registers a request and sends it if connected; it is (re)sent after reconnects. */
  request(key, type, msg) {
    if (this.closed) return Promise.reject(closedError());
    if (this.pending.has(key)) return Promise.reject(new Error('edgegate: a request with this id is in flight'));
    return new Promise((resolve, reject) => {
      const r = { type, msg, order: ++this.order, sentOn: this.conn, resolve, reject };
      this.pending.set(key, r);
      if (this.conn) this.writeRequest(this.conn, r);
    });
  }

  /** Completes the pending request key. */
  resolve(key, msg, err) {
    const r = this.pending.get(key);
    if (!r) return;
    this.pending.delete(key);
    if (r.internal) r.internal(msg, err);
    else if (err) r.reject(err);
    else r.resolve(msg);
  }

  /** Runs a request built by build() -> [key, type, msg], retrying while throttled. */
  async roundTrip(build) {
    for (let attempt = 0; ; attempt++) {
      const [key, type, msg] = build();
      try {
        return await this.request(key, type, msg);
      } catch (e) {
        if (!isRetryable(e) || this.closed) throw e;
        await this.sleep(e.retryAfterMs || backoffDelay(this.opts.minBackoffMs, this.opts.maxBackoffMs, attempt));
        if (this.closed) throw closedError();
      }
    }
  }

  async sendFrame(target, body, clientMsgId) {
    const bytes = toBytes(body).slice();
    if (this.maxMessageBytes > 0 && bytes.length > this.maxMessageBytes) {
      throw new EdgeError('ERROR_CODE_TOO_LARGE', `body of ${bytes.length} bytes exceeds the server's limit of ${this.maxMessageBytes}`);
    }
    const id = clientMsgId || `${this.msgPrefix}-${++this.msgCounter}`;
    checkId('client message', id);
    const ack = await this.roundTrip(() => ['c:' + id, 'Send', { clientMsgId: id, ...target, body: bytes }]);
    this.stats.acked++;
    if (ack.duplicate) this.stats.duplicateAcks++;
    return ack;
  }

  /** Dispatches one frame received after Connected. Throws to end the connection. */
  handleFrame(conn, type, m) {
    switch (type) {
      case 'Deliver':
        if (m.dropped > 0) this.stats.liveDropped += m.dropped;
        for (const msg of m.messages) this.deliver(conn, msg);
        break;
      case 'Ack':
        this.resolve('c:' + m.clientMsgId, m, null);
        break;
      case 'Error':
        this.onErrorFrame(conn, m);
        break;
      case 'Subscribed':
        this.resolve('r:' + m.requestId, m, null);
        break;
      case 'Presence':
        if (m.requestId !== 0) this.resolve('r:' + m.requestId, m, null);
        else this.callback('onPresence', presenceInfo(m));
        break;
      case 'SyncResponse':
        this.onSync(conn, m);
        break;
      case 'Pong':
        conn.onPong(m);
        break;
      case 'Ping':
        conn.write('Pong', { nonce: m.nonce, sentTimeMs: m.sentTimeMs, serverTimeMs: Date.now() });
        break;
      case 'Redirect':
        throw new RedirectSignal(m);
      default: // ignore
    }
  }

  onErrorFrame(conn, m) {
    const err = errorFromFrame(m);
    if (m.clientMsgId) {
      this.resolve('c:' + m.clientMsgId, null, err);
    } else if (m.requestId !== 0) {
      if (conn.syncs.has(m.requestId)) {
        conn.syncs.delete(m.requestId);
        throw new Error(`edgegate: sync failed (${err.message}); reconnecting to resync`);
      }
      this.resolve('r:' + m.requestId, null, err);
    } else {
      conn.lastErr = m;
      this.callback('onError', err);
    }
  }

  deliver(conn, m) {
    if (m.conversation) this.deliverOrdered(conn, m);
    else if (m.room) this.deliverLive(conn, m);
  }

  /** Room comments: drop repeats seen on this connection; gaps are allowed. */
  deliverLive(conn, m) {
    if (m.seq !== 0) {
      if (m.seq <= (conn.roomLast.get(m.room) || 0)) {
        this.stats.duplicatesDropped++;
        return;
      }
      conn.roomLast.set(m.room, m.seq);
    }
    this.push(m);
  }

  /** Conversation messages: in seq order, duplicates dropped, gaps held and synced. */
  deliverOrdered(conn, m) {
    const st = this.convState(m.conversation);
    if (st.known && m.seq <= st.last) {
      this.stats.duplicatesDropped++;
      return;
    }
    if (st.known && m.seq > st.last + 1) {
      if (st.held.has(m.seq)) {
        this.stats.duplicatesDropped++;
        return;
      }
      if (st.held.size >= MAX_HELD) throw new Error('edgegate: too many out-of-order messages held; reconnecting to resync');
      st.held.set(m.seq, m);
      if (!st.syncing) {
        st.syncing = true;
        this.stats.gaps++;
        this.requestSync(conn, m.conversation, st.last);
      }
      return;
    }
    this.pushChain(st, m);
  }

  /** Delivers m (next in order) and any held messages that now follow on. */
  pushChain(st, m) {
    while (m) {
      this.push(m);
      st.last = m.seq;
      st.known = true;
      this.advanced(m.conversation);
      const next = st.held.get(m.seq + 1);
      st.held.delete(m.seq + 1);
      m = next;
    }
  }

  push(m) {
    this.stats.delivered++;
    this.callback('onMessage', appMessage(m));
  }

  requestSync(conn, conv, from) {
    const id = ++this.reqId;
    conn.syncs.set(id, conv);
    conn.write('SyncRequest', { requestId: id, positions: [{ conversation: conv, seq: from }], limit: SYNC_LIMIT });
  }

  /** Delivers a page of a gap repair; asks for the next, or skips what the server no longer has. */
  onSync(conn, resp) {
    const conv = conn.syncs.get(resp.requestId);
    if (conv === undefined) return;
    conn.syncs.delete(resp.requestId);
    for (const m of resp.messages) this.deliver(conn, m);
    const st = this.convs.get(conv);
    if (!st || st.held.size === 0) {
      if (st) st.syncing = false;
      return;
    }
    if (resp.hasMore && resp.messages.length > 0) {
      this.requestSync(conn, conv, st.last);
      return;
    }
    const lowest = Math.min(...st.held.keys());
    this.stats.skipped += lowest - st.last - 1;
    console.warn(`edgegate: ${lowest - st.last - 1} messages of ${conv} missing on the server, skipped`);
    st.last = lowest - 1;
    st.syncing = false;
    const m = st.held.get(lowest);
    st.held.delete(lowest);
    this.pushChain(st, m);
  }

  /**
   * Records an ordered delivery for the cumulative DeliveryAck: flushed
   * after ackEvery deliveries, or ackIntervalMs after the first one not yet
   * acknowledged.
   */
  advanced(conv) {
    this.dirty.add(conv);
    this.sinceAck++;
    if (this.sinceAck >= this.opts.ackEvery) {
      this.flushAcks();
    } else if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = null;
        this.flushAcks();
      }, this.opts.ackIntervalMs);
    }
  }

  /** Sends a cumulative DeliveryAck for the conversations advanced since the last one. */
  flushAcks() {
    this.sinceAck = 0;
    if (this.ackTimer) {
      clearTimeout(this.ackTimer);
      this.ackTimer = null;
    }
    if (this.dirty.size === 0 || !this.conn) return;
    const positions = [];
    for (const conv of this.dirty) {
      const st = this.convs.get(conv);
      if (st && st.known) positions.push({ conversation: conv, seq: st.last });
    }
    if (this.conn.write('DeliveryAck', { positions })) this.dirty.clear();
  }

  /** Stops the client: err null for close(), else the fatal error. */
  finish(err) {
    if (this.closed) return;
    this.closed = true;
    if (this.conn) this.flushAcks();
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    for (const s of [...this.sleepers]) s.wake();
    const conn = this.conn || this.dialing;
    this.conn = null;
    if (conn) conn.end(closedError());
    const reason = err || closedError();
    for (const r of this.pending.values()) if (!r.internal) r.reject(reason);
    this.pending.clear();
    if (this.rejectStarted) {
      this.rejectStarted(reason);
      this.resolveStarted = this.rejectStarted = null;
    }
    this.setState('closed', err ? { error: err } : {});
  }
}
