// smoke.mjs BASE_URL: run by TestSDKSmokeAgainstEdge (sdk_node_test.go) as
//   node --experimental-websocket testdata/smoke.mjs http://127.0.0.1:PORT
// against a dev-mode edge. It drives two EdgeClients through subscribe,
// send, live comments, presence, a forced reconnect with messages sent
// meanwhile (gap-free, duplicate-free delivery), a send issued while
// disconnected, and a rejected token. Prints "ok" and exits 0 on success;
// any failure throws (exit code 1). It never calls process.exit on
// success, so a timer or socket the SDK leaves behind hangs it (the Go
// test's timeout then fails).

import assert from 'node:assert/strict';
import { EdgeClient } from '../static/edgegate.js';

const base = process.argv[2];
const wsUrl = base.replace(/^http/, 'ws').replace(/\/$/, '') + '/v1/ws';
const conv = 'dm:alice:bob';
const room = 'live:smoke';

if (typeof WebSocket === 'undefined') throw new Error('no global WebSocket: run node with --experimental-websocket');

async function token(user) {
  const r = await fetch(`${base.replace(/\/$/, '')}/v1/dev/token?user=${user}`);
  assert.equal(r.status, 200);
  return (await r.json()).token;
}

/** Resolves once cond() holds, polling; rejects after ms. */
async function until(what, cond, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function client(user, tok, extra = {}) {
  const c = {
    got: [], states: [], presence: [], errors: [],
  };
  c.client = new EdgeClient({
    url: wsUrl,
    token: tok,
    deviceId: `${user}-tab`,
    minBackoffMs: 20,
    maxBackoffMs: 200,
    ackIntervalMs: 50,
    onMessage: (m) => c.got.push(m),
    onState: (s, info) => c.states.push([s, info]),
    onPresence: (p) => c.presence.push(p),
    onError: (e) => c.errors.push(e),
    ...extra,
  });
  return c;
}

const ordered = (c) => c.got.filter((m) => m.conversation === conv);

async function main() {
  const [ta, tb] = await Promise.all([token('alice'), token('bob')]);

  // A rejected token is fatal: connect() rejects, state 'closed'.
  const bad = client('mallory', 'not-a-jwt');
  await assert.rejects(bad.client.connect(), (e) => {
    assert.match(e.code, /^ERROR_CODE_(UNAUTHENTICATED|TOKEN_EXPIRED)$/);
    return true;
  });
  assert.equal(bad.client.stats.state, 'closed');

  const alice = client('alice', ta);
  const bob = client('bob', null, { token: undefined, tokenProvider: async () => tb });
  await Promise.all([alice.client.connect(), bob.client.connect()]);
  assert.equal(alice.client.stats.state, 'connected');
  assert.equal(alice.states[0][0], 'connecting');
  assert.ok(alice.client.stats.nodeId, 'nodeId from Connected');

  const sub = await bob.client.subscribe({ conversations: [conv], rooms: [room] });
  assert.equal(typeof sub.requestId, 'number');
  assert.deepEqual(sub.conversations.map((p) => p.conversation), [conv]);
  assert.equal(sub.rooms[0].room, room);
  await alice.client.subscribe({ conversations: [conv], rooms: [room] });

  // Ordered messages, string and binary bodies.
  const acks = [];
  for (let i = 1; i <= 4; i++) acks.push(await alice.client.send(conv, `hello ${i} — héllo 🚀`));
  acks.push(await alice.client.send(conv, new Uint8Array([0, 1, 2, 255])));
  assert.equal(acks[0].conversation, conv);
  assert.ok(acks[0].seq >= 1 && acks[0].serverTimeMs > 1.6e12, JSON.stringify(acks[0]));
  for (let i = 1; i < acks.length; i++) assert.equal(acks[i].seq, acks[i - 1].seq + 1);
  assert.equal(acks[0].duplicate, false);
  await until('bob gets 5 messages', () => ordered(bob).length >= 5);
  const first = ordered(bob)[0];
  assert.equal(first.text, 'hello 1 — héllo 🚀');
  assert.equal(first.sender, 'alice');
  assert.equal(first.senderDevice, 'alice-tab');
  assert.equal(first.class, 'ordered');
  assert.equal(first.clientMsgId, acks[0].clientMsgId);
  assert.deepEqual([...ordered(bob)[4].body], [0, 1, 2, 255]);

  // Live comment.
  const lack = await bob.client.sendLive(room, 'wow 😂');
  assert.equal(lack.room, room);
  await until('alice gets the live comment', () => alice.got.some((m) => m.room === room));
  const live = alice.got.find((m) => m.room === room);
  assert.equal(live.class, 'live');
  assert.equal(live.text, 'wow 😂');

  // Presence.
  const p = await alice.client.presence({ conversation: conv });
  assert.ok(Array.isArray(p.users), JSON.stringify(p));
  const rp = await alice.client.presence({ room });
  assert.equal(typeof rp.viewers, 'number');

  // Forced reconnect: messages sent while bob is away arrive once, in order.
  const head = acks[acks.length - 1].seq;
  await until('bob position', () => bob.client.positions()[conv] === head);
  bob.client.conn.ws.close(); // drop bob's socket under the client
  const during = [];
  for (let i = 0; i < 3; i++) during.push(await alice.client.send(conv, `while away ${i}`));
  const queued = bob.client.send(conv, 'sent while reconnecting');
  const qack = await queued;
  assert.equal(qack.conversation, conv);
  await until('bob reconnects', () => bob.client.stats.state === 'connected' && bob.client.stats.reconnects === 1);
  assert.ok(bob.states.some(([s]) => s === 'reconnecting'), JSON.stringify(bob.states.map(([s]) => s)));
  await until('bob catches up', () => bob.client.positions()[conv] === qack.seq);
  const seqs = ordered(bob).map((m) => m.seq);
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `gap or duplicate in ${seqs}`);
  assert.equal(seqs[seqs.length - 1], qack.seq);
  const texts = ordered(bob).map((m) => m.text);
  for (let i = 0; i < 3; i++) assert.equal(texts.filter((t) => t === `while away ${i}`).length, 1);

  // Unsubscribe forgets the position.
  await alice.client.unsubscribe({ conversations: [conv], rooms: [room] });
  assert.equal(alice.client.positions()[conv], undefined);

  assert.ok(bob.client.stats.rttMs >= 0);
  alice.client.close();
  bob.client.close();
  assert.equal(alice.client.stats.state, 'closed');
  await assert.rejects(alice.client.send(conv, 'after close'), (e) => e.code === 'CLOSED');
  console.log(JSON.stringify({ ok: true, bob: bob.client.stats }));
}

await main();
