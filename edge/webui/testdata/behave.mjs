// behave.mjs WS_BASE: run by TestSDKBehaviour (sdk_node_test.go) as
//   node --experimental-websocket testdata/behave.mjs ws://127.0.0.1:PORT
// against the scripted fake edge of that test. The token of each client
// names the scenario the fake edge plays (see `scenarios` in the Go test,
// which checks the client's frames; this script checks what the
// application sees). Prints {"ok":true,...} on success; a failure throws.

import assert from 'node:assert/strict';
import { EdgeClient } from '../static/edgegate.js';

const url = process.argv[2].replace(/\/$/, '') + '/v1/ws';

async function until(what, cond, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An EdgeClient recording everything it reports. */
function rec(opts) {
  const r = { got: [], states: [], presence: [], errors: [] };
  r.c = new EdgeClient({
    url,
    minBackoffMs: 10,
    maxBackoffMs: 50,
    ackIntervalMs: 20,
    onMessage: (m) => r.got.push(m),
    onState: (s, info) => r.states.push({ s, ...info }),
    onPresence: (p) => r.presence.push(p),
    onError: (e) => r.errors.push(e),
    ...opts,
  });
  return r;
}

const scenarios = {
  async gap() {
    const r = rec({ token: 'gap' });
    await r.c.connect();
    const sub = await r.c.subscribe({ conversations: ['dm:a:b'] });
    assert.deepEqual(sub.conversations, [{ conversation: 'dm:a:b', seq: 5 }]);
    await until('6 messages', () => r.got.length >= 6);
    assert.deepEqual(r.got.map((m) => m.seq), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(r.got.map((m) => m.text), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    assert.equal(r.got[0].class, 'ordered');
    assert.equal(r.c.stats.gaps, 1);
    assert.deepEqual(r.c.positions(), { 'dm:a:b': 6 });
    r.c.close();
  },

  async redirect() {
    const r = rec({ token: 'redirect' });
    await r.c.connect();
    await until('redirected session', () => r.c.stats.nodeId === 'alt');
    assert.equal(r.c.stats.reconnects, 1);
    const last = r.states[r.states.length - 1];
    assert.equal(last.s, 'connected');
    assert.equal(last.resumed, true);
    r.c.close();
  },

  async compressed() {
    const r = rec({ token: 'compressed' });
    await r.c.connect();
    await until('reconnect after the compressed frame', () => r.c.stats.nodeId === 'second');
    const rs = r.states.find((s) => s.s === 'reconnecting');
    assert.ok(rs && rs.error && rs.error.name === 'ProtocolError' && /compressed/.test(rs.error.message), JSON.stringify(r.states));
    assert.equal(r.got.length, 0);
    r.c.close();
  },

  async ratelimit() {
    const r = rec({ token: 'ratelimit' });
    await r.c.connect();
    const t0 = Date.now();
    const ack = await r.c.send('dm:a:b', 'hi');
    assert.ok(Date.now() - t0 >= 90, `retried after ${Date.now() - t0} ms`);
    assert.equal(ack.seq, 1);
    assert.equal(ack.conversation, 'dm:a:b');
    r.c.close();
  },

  async resend() {
    const r = rec({ token: 'resend' });
    await r.c.connect();
    await r.c.subscribe({ conversations: ['dm:a:b'] });
    await until('3 messages', () => r.got.length >= 3);
    const ack = await r.c.send('dm:a:b', 'once');
    assert.equal(ack.duplicate, true);
    assert.equal(ack.seq, 7);
    assert.equal(r.c.stats.resent, 1);
    assert.equal(r.c.stats.reconnects, 1);
    await until('message 4', () => r.got.length >= 4);
    assert.deepEqual(r.got.map((m) => m.seq), [1, 2, 3, 4]);
    const rs = r.states.find((s) => s.s === 'reconnecting');
    assert.equal(rs.error.closeCode, 1001);
    r.c.close();
  },

  async auth() {
    const fatal = rec({ token: 'auth-bad' });
    await assert.rejects(fatal.c.connect(), (e) => e.code === 'ERROR_CODE_TOKEN_EXPIRED' && e.reason === 'token expired');
    assert.equal(fatal.c.stats.state, 'closed');
    assert.equal(fatal.states[fatal.states.length - 1].s, 'closed');

    let calls = 0;
    const retried = rec({ tokenProvider: async () => (++calls === 1 ? 'auth-bad' : 'auth-good') });
    await retried.c.connect();
    assert.equal(calls, 2);
    retried.c.close();

    let calls2 = 0;
    const twice = rec({ tokenProvider: async () => { calls2++; return 'auth-bad'; } });
    await assert.rejects(twice.c.connect(), (e) => e.code === 'ERROR_CODE_TOKEN_EXPIRED');
    assert.equal(calls2, 2);
  },

  async heartbeat() {
    const r = rec({ token: 'heartbeat' });
    const t0 = Date.now();
    await r.c.connect();
    await until('reconnect after the heartbeat timeout', () => r.c.stats.nodeId === 'hb2', 3000);
    assert.ok(Date.now() - t0 >= 200, `gave up after ${Date.now() - t0} ms`);
    r.c.close();
  },

  async errors() {
    const r = rec({ token: 'errors' });
    await r.c.connect();
    await assert.rejects(r.c.subscribe({ conversations: ['group:x'] }),
      (e) => e.code === 'ERROR_CODE_FORBIDDEN' && e.reason === 'not a member');
    await until('pushed presence', () => r.presence.length === 1);
    assert.equal(r.presence[0].room, 'live:1');
    assert.equal(r.presence[0].viewers, 3);
    await until('connection-level error', () => r.errors.length === 1);
    assert.equal(r.errors[0].code, 'ERROR_CODE_OVERLOADED');
    const p = await r.c.presence({ conversation: 'group:x' });
    assert.deepEqual(p.users, [{ userId: 'alice', devices: 2, online: true }, { userId: 'bob', devices: 0, online: false }]);
    await until('live messages', () => r.got.length >= 2);
    await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(r.got.map((m) => [m.room, m.seq, m.class, m.text]), [['live:1', 5, 'live', '👏'], ['live:1', 6, 'live', '👏']]);
    assert.equal(r.c.stats.liveDropped, 2);
    r.c.close();
    await assert.rejects(r.c.presence({ room: 'live:1' }), (e) => e.code === 'CLOSED');
  },
};

const ran = [];
for (const [name, run] of Object.entries(scenarios)) {
  try {
    await run();
  } catch (e) {
    e.message = `scenario ${name}: ${e.message}`;
    throw e;
  }
  ran.push(name);
}
console.log(JSON.stringify({ ok: true, ran }));
