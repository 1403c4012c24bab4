// fuzz.mjs SEEDS N RNGSEED: run by TestJSDecoderFuzz (fuzz_node_test.go).
//
// SEEDS is a JSON array of base64 frames made by Go (one of every type).
// The script mutates them N times (bit flips, byte changes, truncation,
// extension, splices, length-field edits) with a seeded PRNG and feeds each
// result to decodeFrame, which must either return {type, msg} or throw an
// Error named ProtocolError: any other exception, or a hang, is a bug.
// Whatever decodes must re-encode and decode to the same type. It prints
// {"runs", "decoded", "rejected"} or exits 1 with the failing input.

import { readFileSync } from 'node:fs';
import { encodeFrame, decodeFrame } from '../static/edgegate.js';

const [seedsFile, nArg, rngArg] = process.argv.slice(2);
const seeds = JSON.parse(readFileSync(seedsFile, 'utf8')).map((s) => new Uint8Array(Buffer.from(s, 'base64')));
const n = Number(nArg);

// xorshift32: deterministic for a given RNGSEED, so failures reproduce.
let state = (Number(rngArg) >>> 0) || 1;
const rand = () => {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state;
};
const pick = (k) => rand() % k;

function mutate(src) {
  let b = Uint8Array.from(src);
  for (let m = 1 + pick(4); m > 0; m--) {
    switch (pick(7)) {
      case 0: if (b.length) b[pick(b.length)] ^= 1 << pick(8); break;
      case 1: if (b.length) b[pick(b.length)] = pick(256); break;
      case 2: b = b.slice(0, pick(b.length + 1)); break;
      case 3: { const extra = Uint8Array.from({ length: 1 + pick(16) }, () => pick(256)); const c = new Uint8Array(b.length + extra.length); c.set(b); c.set(extra, b.length); b = c; break; }
      case 4: { const o = seeds[pick(seeds.length)]; const cut = pick(b.length + 1); const from = pick(o.length + 1); const c = new Uint8Array(cut + o.length - from); c.set(b.subarray(0, cut)); c.set(o.subarray(from), cut); b = c; break; }
      case 5: if (b.length >= 8) { const len = b.length - 8 + pick(5) - 2; new DataView(b.buffer, b.byteOffset).setUint32(4, Math.max(0, len)); } break;
      case 6: if (b.length > 8) b[8 + pick(b.length - 8)] = [0x80, 0xff, 0x0a, 0x12, 0x08][pick(5)]; break;
    }
  }
  return b;
}

let decoded = 0, rejected = 0;
for (let i = 0; i < n; i++) {
  const input = i < seeds.length ? seeds[i] : mutate(seeds[pick(seeds.length)]);
  let out;
  try {
    out = decodeFrame(input);
  } catch (e) {
    if (e && e.name === 'ProtocolError') { rejected++; continue; }
    console.log(JSON.stringify({ failure: String(e && e.stack || e), input: Buffer.from(input).toString('base64') }));
    process.exit(1);
  }
  try {
    const again = decodeFrame(encodeFrame(out.type, out.msg));
    if (again.type !== out.type) throw new Error(`re-decoded as ${again.type}, was ${out.type}`);
  } catch (e) {
    console.log(JSON.stringify({ failure: 'round trip: ' + String(e && e.stack || e), input: Buffer.from(input).toString('base64') }));
    process.exit(1);
  }
  decoded++;
}
console.log(JSON.stringify({ runs: n, decoded, rejected }));
