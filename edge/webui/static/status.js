// edgegate operator status page: polls /v1/status every second and turns
// the counters into rates (deltas between two polls). In production the
// endpoint sits behind the API key with HTTP Basic auth; the browser asks
// for it, the page does nothing special.
const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const SPARK_POINTS = 60;

let prev = null; // {t, s}
const spark = [];

function fmtRate(v) {
  if (!isFinite(v) || v < 0) return '0';
  return v >= 100 ? Math.round(v).toLocaleString() : v.toFixed(1);
}

function fmtUptime(s) {
  s = Math.floor(s || 0);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

const num = (v) => (typeof v === 'number' && isFinite(v) ? v : 0);
const sumObj = (o) => Object.values(o || {}).reduce((a, b) => a + num(b), 0);

function deliveredTotal(s) {
  return sumObj(s.delivered_total);
}

function rate(cur, old, dt) {
  const d = num(cur) - num(old);
  return d < 0 ? 0 : d / dt; // a counter going back means the node restarted
}

function renderSpark() {
  const w = 300, h = 60;
  const max = Math.max(1, ...spark);
  const step = w / (SPARK_POINTS - 1);
  const off = SPARK_POINTS - spark.length;
  const pts = spark.map((v, i) => [(off + i) * step, h - 2 - (v / max) * (h - 6)]);
  $('spark').dataset.points = String(spark.length);
  if (!pts.length) return;
  if (pts.length === 1) pts.unshift([0, pts[0][1]]);
  const line = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  $('spark-line').setAttribute('d', line);
  $('spark-area').setAttribute('d', `${line} L${pts[pts.length - 1][0].toFixed(1)},${h} L${pts[0][0].toFixed(1)},${h} Z`);
  $('spark-max').textContent = `(max ${fmtRate(max)})`;
}

/** The cluster's nodes as this one sees them (itself alone without a cluster). */
function renderNodes(nodes, self) {
  const body = $('nodes-body');
  body.replaceChildren();
  for (const n of nodes) {
    const tr = document.createElement('tr');
    tr.dataset.node = n.id;
    const state = n.draining ? 'draining' : n.state;
    const cells = [
      n.id + (n.id === self ? ' (this node)' : ''),
      state,
      [n.region, n.zone].filter(Boolean).join(' / ') || '–',
      n.capacity ? `${num(n.connections)} / ${num(n.capacity)}` : String(num(n.connections)),
      n.meta_ok === false ? '?' : String(num(n.health)),
      n.ws_url || '–',
    ];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.append(td);
    }
    if (state !== 'alive') tr.className = 'warn';
    body.append(tr);
  }
}

function render(s, now) {
  $('node-id').textContent = s.node_id || '–';
  const dr = $('draining');
  dr.textContent = s.draining ? 'draining' : 'serving';
  dr.className = 'pill ' + (s.draining ? 'warn' : 'ok');
  $('dev-flag').textContent = s.dev ? 'dev mode' : '';
  $('uptime').textContent = fmtUptime(s.uptime_s);
  $('started').textContent = new Date(now - num(s.uptime_s) * 1000).toLocaleString();

  const conns = s.connections || {};
  $('conn-now').textContent = String(sumObj(conns));
  $('conn-total').textContent = String(num(s.connections_total));
  const tbl = $('transports');
  tbl.replaceChildren();
  const names = Object.keys(conns).sort();
  if (!names.length) names.push('ws');
  for (const name of names) {
    const tr = document.createElement('tr');
    const a = document.createElement('td');
    a.textContent = name;
    const b = document.createElement('td');
    b.textContent = String(num(conns[name]));
    tr.append(a, b);
    tbl.append(tr);
  }

  const health = s.health || {};
  const score = num(health.score);
  const hs = $('health-score');
  hs.textContent = String(score);
  hs.className = 'big ' + (score >= 80 ? 'score-ok' : score >= 50 ? 'score-warn' : 'score-bad');
  const reasons = $('health-reasons');
  reasons.replaceChildren();
  for (const r of health.reasons || []) {
    const li = document.createElement('li');
    li.textContent = r;
    reasons.append(li);
  }
  if (!(health.reasons || []).length) {
    const li = document.createElement('li');
    li.textContent = 'no issues';
    reasons.append(li);
  }

  renderNodes(s.nodes || [], s.node_id);

  $('rooms').textContent = String(num(s.rooms));
  $('room-viewers').textContent = String(num(s.room_viewers));
  $('live-dropped').textContent = String(num(s.live_dropped_total));

  if (prev) {
    const dt = Math.max(0.001, (now - prev.t) / 1000);
    const p = prev.s;
    const pd = p.delivered_total || {}, cd = s.delivered_total || {};
    $('rate-frames-in').textContent = fmtRate(rate(s.frames_in_total, p.frames_in_total, dt));
    $('rate-frames-out').textContent = fmtRate(rate(s.frames_out_total, p.frames_out_total, dt));
    $('rate-ordered').textContent = fmtRate(rate(s.ordered_messages_total, p.ordered_messages_total, dt));
    $('rate-deliv-ordered').textContent = fmtRate(rate(cd.ordered, pd.ordered, dt));
    $('rate-live').textContent = fmtRate(rate(s.live_comments_total, p.live_comments_total, dt));
    $('rate-deliv-live').textContent = fmtRate(rate(cd.live, pd.live, dt));
    $('live-dropped-rate').textContent = fmtRate(rate(s.live_dropped_total, p.live_dropped_total, dt));
    const dv = rate(deliveredTotal(s), deliveredTotal(p), dt);
    $('deliv-rate').textContent = fmtRate(dv);
    spark.push(dv);
    while (spark.length > SPARK_POINTS) spark.shift();
    renderSpark();
  }
  prev = { t: now, s };
}

async function poll() {
  try {
    const resp = await fetch('/v1/status', { cache: 'no-store', credentials: 'same-origin' });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const s = await resp.json();
    render(s, Date.now());
    $('poll-state').textContent = 'updated ' + new Date().toLocaleTimeString();
    $('poll-error').textContent = '';
  } catch (e) {
    $('poll-error').textContent = 'status unavailable: ' + (e && e.message ? e.message : e);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
