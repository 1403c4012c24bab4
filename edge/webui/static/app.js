// edgegate demo page: a live stage with danmaku, chat, presence and the
// connection state, on top of the browser SDK. No framework, no external
// assets. Tests drive it through window.edgegateDemo and the DOM
// (.msg[data-conv][data-seq][data-sender][data-text], .danmaku[data-text],
// #conn-state, #reconnects[data-reconnects]).
import { EdgeClient } from '/sdk/edgegate.js';

const LOBBY = 'group:lobby';
const ROOM = 'live:demo';
const MAX_DANMAKU = 50;
const DANMAKU_SPEED = 160; // px per second, the same for every comment so lanes never catch up
const LANE_GAP = 36; // px between two comments in a lane
const RATE_WINDOW_MS = 5000;
const ANIMALS = ['otter', 'panda', 'koala', 'lynx', 'heron', 'gecko', 'bison', 'fox', 'orca', 'yak', 'ibis', 'lemur', 'puffin', 'tapir', 'wombat'];

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const validUser = (u) => /^[A-Za-z0-9._@-]{1,64}$/.test(u);

let user = params.get('user') || '';
if (!validUser(user)) {
  user = ANIMALS[Math.floor(Math.random() * ANIMALS.length)] + '-' + Math.floor(100 + Math.random() * 900);
}
const deviceId = deviceFor(user);

function deviceFor(u) {
  const key = 'edgegate-demo-device:' + u;
  try {
    let d = sessionStorage.getItem(key);
    if (!d) {
      d = 'web-' + Math.random().toString(36).slice(2, 8);
      sessionStorage.setItem(key, d);
    }
    return d;
  } catch {
    return 'web-' + Math.random().toString(36).slice(2, 8);
  }
}

function dmId(a, b) {
  return 'dm:' + [a, b].sort().join(':');
}

// The public test hook: ready resolves after connect and subscribe.
let readyResolve, readyReject;
const demo = {
  client: null,
  user,
  deviceId,
  ready: new Promise((res, rej) => { readyResolve = res; readyReject = rej; }),
};
window.edgegateDemo = demo;

// ---------------------------------------------------------------- helpers

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function colorFor(name) {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${h % 360} 62% 52%)`;
}

function avatar(name) {
  const a = el('span', 'avatar', name.slice(0, 1).toUpperCase());
  a.style.background = colorFor(name);
  return a;
}

function timeOf(ms) {
  const d = ms ? new Date(ms) : new Date();
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

let toastTimer = 0;
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
}

// ---------------------------------------------------------------- stage

function startStage() {
  const canvas = $('stage-canvas');
  const ctx = canvas.getContext('2d');
  const blobs = [
    { hue: 230, r: 0.55, sx: 0.00011, sy: 0.00017, px: 0.0, py: 1.3 },
    { hue: 300, r: 0.45, sx: 0.00015, sy: 0.00009, px: 2.1, py: 0.4 },
    { hue: 190, r: 0.5, sx: 0.00008, sy: 0.00013, px: 4.2, py: 2.7 },
    { hue: 20, r: 0.35, sx: 0.00019, sy: 0.00011, px: 1.0, py: 5.1 },
  ];
  function frame(t) {
    const w = canvas.clientWidth, h = canvas.clientHeight;
    const dpr = Math.min(window.devicePixelRatio || 1, 2);
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const bg = ctx.createLinearGradient(0, 0, w, h);
    bg.addColorStop(0, '#0b1024');
    bg.addColorStop(1, '#1a0d2b');
    ctx.fillStyle = bg;
    ctx.fillRect(0, 0, w, h);
    ctx.globalCompositeOperation = 'lighter';
    for (const b of blobs) {
      const x = w * (0.5 + 0.38 * Math.sin(t * b.sx + b.px));
      const y = h * (0.5 + 0.36 * Math.cos(t * b.sy + b.py));
      const r = Math.max(w, h) * b.r;
      const g = ctx.createRadialGradient(x, y, 0, x, y, r);
      g.addColorStop(0, `hsla(${(b.hue + t * 0.01) % 360}, 80%, 55%, 0.55)`);
      g.addColorStop(1, 'hsla(0, 0%, 0%, 0)');
      ctx.fillStyle = g;
      ctx.fillRect(0, 0, w, h);
    }
    ctx.globalCompositeOperation = 'source-over';
    // A horizon of "equalizer" bars so it reads as a stream, not a wallpaper.
    const bars = 48, bw = w / bars;
    ctx.fillStyle = 'rgba(255,255,255,0.08)';
    for (let i = 0; i < bars; i++) {
      const v = 0.5 + 0.5 * Math.sin(t * 0.003 + i * 0.6) * Math.cos(t * 0.0017 + i * 0.23);
      const bh = h * 0.04 + v * h * 0.16;
      ctx.fillRect(i * bw + 1, h - bh, bw - 2, bh);
    }
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);
}

// ---------------------------------------------------------------- danmaku

const LANE_HEIGHT = 32;
const lanes = []; // per lane: {el, start, width} of its last comment
const rateTimes = [];
const localLive = new Map(); // text -> count of own comments flown before the echo

function laneCount() {
  const h = $('stage').clientHeight;
  return Math.max(1, Math.floor((h - 50) / LANE_HEIGHT));
}

// pickLane returns the first lane whose last comment has fully entered the
// stage plus a gap; when none is free, the lane whose last comment is
// furthest along.
function pickLane(now) {
  const n = laneCount();
  let best = 0, bestRoom = -Infinity;
  for (let i = 0; i < n; i++) {
    const last = lanes[i];
    if (!last) return i;
    const travelled = ((now - last.start) / 1000) * DANMAKU_SPEED;
    const room = travelled - last.width - LANE_GAP;
    if (room >= 0) return i;
    if (room > bestRoom) { bestRoom = room; best = i; }
  }
  return best;
}

function flyDanmaku(text, sender, own) {
  const layer = $('danmaku-layer');
  const stageW = $('stage').clientWidth;
  const d = el('div', own ? 'danmaku own' : 'danmaku', text);
  d.dataset.text = text;
  d.dataset.sender = sender;
  d.title = sender;
  d.style.transform = `translateX(${stageW}px)`;
  layer.appendChild(d);
  const width = d.offsetWidth;
  const now = performance.now();
  const lane = pickLane(now);
  lanes[lane] = { start: now, width };
  d.style.top = (12 + 28 + lane * LANE_HEIGHT) + 'px';
  const duration = ((stageW + width) / DANMAKU_SPEED) * 1000;
  const anim = d.animate(
    [{ transform: `translateX(${stageW}px)` }, { transform: `translateX(${-width - 4}px)` }],
    { duration, easing: 'linear', fill: 'forwards' });
  anim.onfinish = () => d.classList.add('done');
  // Keep the last MAX_DANMAKU comments in the DOM (finished ones hidden).
  while (layer.children.length > MAX_DANMAKU) layer.firstElementChild.remove();
  rateTimes.push(Date.now());
}

function updateRate() {
  const cutoff = Date.now() - RATE_WINDOW_MS;
  while (rateTimes.length && rateTimes[0] < cutoff) rateTimes.shift();
  $('danmaku-rate').textContent = (rateTimes.length / (RATE_WINDOW_MS / 1000)).toFixed(1);
}

function onLive(m) {
  const own = m.sender === user;
  if (own && m.senderDevice === deviceId) {
    // Already flown when it was sent.
    const n = localLive.get(m.text) || 0;
    if (n > 0) {
      if (n === 1) localLive.delete(m.text); else localLive.set(m.text, n - 1);
      return;
    }
  }
  flyDanmaku(m.text, m.sender, own);
}

// ---------------------------------------------------------------- chat

const convs = new Map(); // id -> {id, msgs: Map(seq -> msg), unread, el}
let current = LOBBY;

function convTitle(id) {
  const parts = id.split(':');
  if (parts[0] === 'dm' && parts.length === 3) {
    const other = parts[1] === user ? parts[2] : parts[1];
    return '@' + other;
  }
  if (parts[0] === 'group') return '# ' + parts.slice(1).join(':');
  return id;
}

function ensureConv(id) {
  let c = convs.get(id);
  if (c) return c;
  c = { id, msgs: new Map(), unread: 0, el: null };
  convs.set(id, c);
  const li = el('li');
  li.dataset.conv = id;
  li.title = id;
  li.append(el('span', 'name', convTitle(id)), el('span', 'badge'));
  li.querySelector('.badge').hidden = true;
  li.addEventListener('click', () => selectConv(id));
  c.el = li;
  $('conv-list').appendChild(li);
  renderConvItem(c);
  return c;
}

function renderConvItem(c) {
  c.el.classList.toggle('active', c.id === current);
  c.el.classList.toggle('unread', c.unread > 0);
  const b = c.el.querySelector('.badge');
  b.hidden = c.unread === 0;
  b.textContent = String(c.unread);
}

function selectConv(id) {
  const c = ensureConv(id);
  current = id;
  c.unread = 0;
  for (const x of convs.values()) renderConvItem(x);
  $('thread-title').textContent = convTitle(id);
  $('thread-sub').textContent = id;
  renderThread();
  $('chat-input').focus();
}

function msgElement(m) {
  const own = m.sender === user;
  const e = el('div', own ? 'msg own' : 'msg');
  e.dataset.conv = m.conversation;
  e.dataset.seq = String(m.seq);
  e.dataset.sender = m.sender;
  e.dataset.text = m.text;
  const bubble = el('div', 'bubble');
  bubble.append(el('div', 'meta', `${own ? 'you' : m.sender} · ${timeOf(m.serverTimeMs)} · #${m.seq}`), el('div', 'text', m.text));
  if (!own) e.append(avatar(m.sender));
  e.append(bubble);
  return e;
}

function renderThread() {
  const box = $('messages');
  box.replaceChildren();
  const c = convs.get(current);
  const list = c ? [...c.msgs.values()].sort((a, b) => a.seq - b.seq) : [];
  if (!list.length) box.append(el('div', 'empty', 'No messages yet. Say hello!'));
  for (const m of list) box.append(msgElement(m));
  box.scrollTop = box.scrollHeight;
}

// addMessage records a message once (keyed by seq) and shows it in place.
function addMessage(m) {
  const c = ensureConv(m.conversation);
  if (c.msgs.has(m.seq)) return;
  c.msgs.set(m.seq, m);
  if (m.conversation !== current) {
    if (m.sender !== user) c.unread++;
    renderConvItem(c);
    return;
  }
  const box = $('messages');
  box.querySelector('.empty')?.remove();
  const e = msgElement(m);
  // Messages arrive in order; an own ack may race its delivery, so insert
  // by seq rather than append blindly.
  let after = null;
  for (const x of box.querySelectorAll('.msg')) {
    if (Number(x.dataset.seq) > m.seq) { after = x; break; }
  }
  const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 40;
  box.insertBefore(e, after ? after : box.querySelector('.pending-msg'));
  if (stick || m.sender === user) box.scrollTop = box.scrollHeight;
}

async function sendChat(text) {
  const conv = current;
  const c = demo.client;
  const box = $('messages');
  // Not a .msg until it has a seq: tests and addMessage only see stored messages.
  const pending = el('div', 'pending-msg own');
  const bubble = el('div', 'bubble');
  bubble.append(el('div', 'meta', 'sending…'), el('div', 'text', text));
  pending.append(bubble);
  box.querySelector('.empty')?.remove();
  box.append(pending);
  box.scrollTop = box.scrollHeight;
  try {
    const ack = await c.send(conv, text);
    addMessage({ conversation: conv, seq: ack.seq, sender: user, senderDevice: deviceId, serverTimeMs: ack.serverTimeMs, text, class: 'ordered' });
  } catch (e) {
    toast('send failed: ' + (e && e.message ? e.message : e));
  } finally {
    pending.remove();
  }
}

async function openDM(other) {
  other = other.trim();
  if (!validUser(other) || other === user) {
    toast('not a valid user id: ' + other);
    return;
  }
  const id = dmId(user, other);
  ensureConv(id);
  selectConv(id);
  if (demo.client) {
    try {
      await demo.client.subscribe({ conversations: [id] });
    } catch (e) {
      toast('subscribe failed: ' + (e && e.message ? e.message : e));
    }
  }
}

// ---------------------------------------------------------------- presence

async function refreshPresence() {
  const c = demo.client;
  if (!c) return;
  try {
    const p = await c.presence({ conversation: LOBBY });
    renderPresence(p.users || []);
  } catch { /* retried on the next presence event or reconnect */ }
}

async function refreshViewers() {
  const c = demo.client;
  if (!c || c.stats.state !== 'connected') return;
  try {
    const p = await c.presence({ room: ROOM });
    setViewers(p.viewers);
  } catch { /* next tick */ }
}

function setViewers(n) {
  if (typeof n === 'number') $('viewers').textContent = String(n);
}

function renderPresence(users) {
  const list = $('presence-list');
  list.replaceChildren();
  const online = users.filter((u) => u.online !== false && (u.devices === undefined || u.devices > 0));
  // This page is in the lobby whenever it is connected, even if the answer
  // raced the re-subscription after a reconnect.
  const connected = demo.client && demo.client.stats.state === 'connected';
  if (connected && !online.some((u) => u.userId === user)) online.push({ userId: user, devices: 1, online: true });
  online.sort((a, b) => (a.userId === user ? -1 : b.userId === user ? 1 : a.userId.localeCompare(b.userId)));
  for (const u of online) {
    const li = el('li');
    li.dataset.user = u.userId;
    li.append(avatar(u.userId), el('span', '', u.userId));
    if (u.userId === user) li.append(el('span', 'me-tag', '(you)'));
    else {
      li.style.cursor = 'pointer';
      li.title = 'chat with ' + u.userId;
      li.addEventListener('click', () => openDM(u.userId));
    }
    if (u.devices > 1) li.append(el('span', 'me-tag', `×${u.devices}`));
    list.append(li);
  }
  if (!online.length) list.append(el('li', 'offline', 'nobody yet'));
  $('presence-count').textContent = String(online.length);
}

// ---------------------------------------------------------------- status bar

let lastState = 'connecting';
function renderStatus() {
  const c = demo.client;
  const st = c ? c.stats : {};
  const state = (st && st.state) || lastState;
  $('conn-state').textContent = state;
  $('conn-dot').className = 'dot ' + state;
  $('transport').textContent = st.transport || '–';
  $('rtt').textContent = typeof st.rttMs === 'number' && st.rttMs > 0 ? st.rttMs.toFixed(st.rttMs < 10 ? 1 : 0) + ' ms' : '–';
  const rc = st.reconnects || 0;
  const rEl = $('reconnects');
  rEl.textContent = String(rc);
  rEl.dataset.reconnects = String(rc);
  $('node-id').textContent = st.nodeId || '–';
  $('stat-delivered').textContent = String(st.delivered || 0);
  $('stat-dropped').textContent = String(st.liveDropped || 0);
}

// ---------------------------------------------------------------- start

function onMessage(m) {
  if (m.room || m.class === 'live') {
    if (m.room === ROOM) onLive(m);
    return;
  }
  if (m.conversation) addMessage(m);
}

function onState(state, info) {
  lastState = state;
  renderStatus();
  $('conn-state').textContent = state;
  $('conn-dot').className = 'dot ' + state;
  if (state === 'connected') {
    if (info && info.nodeId) $('node-id').textContent = info.nodeId;
    refreshPresence();
    refreshViewers();
  }
}

function onPresence(p) {
  if (p.room === ROOM) setViewers(p.viewers);
  if (p.conversation === LOBBY) refreshPresence();
}

async function main() {
  $('me-name').textContent = user;
  $('stat-device').textContent = deviceId;
  document.title = `edgegate demo · ${user}`;
  startStage();
  ensureConv(LOBBY);
  const dms = (params.get('dm') || '').split(',').map((s) => s.trim()).filter((s) => validUser(s) && s !== user);
  for (const other of dms) ensureConv(dmId(user, other));
  selectConv(dms.length ? dmId(user, dms[0]) : LOBBY);
  const peer = dms[0] || (user === 'bob' ? 'alice' : 'bob');
  $('hint-url').textContent = `?user=${peer}&dm=${user}`;

  $('composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text || !demo.client) return;
    input.value = '';
    sendChat(text);
  });
  $('danmaku-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('danmaku-input');
    const text = input.value.trim();
    if (!text || !demo.client) return;
    input.value = '';
    localLive.set(text, (localLive.get(text) || 0) + 1);
    flyDanmaku(text, user, true);
    try {
      await demo.client.sendLive(ROOM, text);
    } catch (e) {
      toast('comment not sent: ' + (e && e.message ? e.message : e));
    }
  });
  $('dm-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $('dm-user');
    const other = input.value;
    input.value = '';
    openDM(other);
  });
  setInterval(updateRate, 500);
  setInterval(renderStatus, 1000);
  // Pushed presence events carry one user; a periodic query keeps the list
  // and the room's viewer count right after reconnects too.
  setInterval(() => { refreshViewers(); refreshPresence(); }, 3000);

  const resp = await fetch('/v1/dev/token?user=' + encodeURIComponent(user));
  if (!resp.ok) throw new Error(`token: HTTP ${resp.status} (is the edge running with --dev?)`);
  const { token } = await resp.json();
  const client = new EdgeClient({
    url: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/ws',
    token,
    deviceId,
    onMessage,
    onState,
    onPresence,
    onError: (e) => console.warn('edgegate:', e),
  });
  demo.client = client;
  await client.connect();
  const sub = await client.subscribe({ conversations: [LOBBY, ...dms.map((o) => dmId(user, o))], rooms: [ROOM] });
  for (const r of (sub && sub.rooms) || []) if (r.room === ROOM) setViewers(r.viewers);
  renderStatus();
  await refreshPresence();
}

main().then(() => readyResolve(true), (e) => {
  console.error(e);
  toast(String(e && e.message ? e.message : e));
  $('conn-state').textContent = 'closed';
  readyReject(e);
});
