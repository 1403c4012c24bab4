// agree.mjs FIXTURE: run by TestJSAgreesWithGo (sdk_node_test.go).
//
// FIXTURE is JSON written by the Go test:
//   {samples:   [{type, json, frame}],  // json: protojson of the message, frame: base64 of Go's frame
//    accepted:  [{name, frame}],        // odd but valid frames (extensions, unknown fields, unpacked)
//    malformed: [{name, frame}]}        // frames decodeFrame must reject
// It prints one JSON object on stdout:
//   {samples:   [{type, encoded, decodedType, decoded, reencoded}],
//    accepted:  [{name, decodedType, decoded}],
//    malformed: [{name, threw, error}]}
// with encoded/reencoded base64 frames and decoded as protojson-style JSON.

import { readFileSync } from 'node:fs';
import { encodeFrame, decodeFrame } from '../static/edgegate.js';
import { schema, enums } from '../static/schema.js';

const b64 = (u8) => Buffer.from(u8).toString('base64');
const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));

/** Converts a protojson value of field f to the SDK's JS representation. */
function fromJSONValue(f, v) {
  switch (f.kind) {
    case 'int64': case 'uint64': case 'uint32': case 'int32': return Number(v);
    case 'bytes': return unb64(v);
    case 'message': return fromJSON(f.message, v);
    default: return v; // string, bool, enum name
  }
}

function fromJSON(type, json) {
  const out = {};
  for (const f of schema[type]) {
    const v = json[f.name];
    if (v === undefined) continue;
    out[f.name] = f.repeated ? v.map((x) => fromJSONValue(f, x)) : fromJSONValue(f, v);
  }
  return out;
}

/** Converts a decoded SDK value back to protojson conventions. */
function toJSONValue(f, v) {
  switch (f.kind) {
    case 'int64': case 'uint64': return String(v);
    case 'bytes': return b64(v);
    case 'message': return toJSON(f.message, v);
    default: return v;
  }
}

function isDefault(f, v) {
  if (f.repeated) return v.length === 0;
  if (f.oneof) return v === undefined;
  switch (f.kind) {
    case 'bytes': return v.length === 0;
    case 'enum': return v === 0 || enums[f.enum][v] === 0;
    default: return v === '' || v === 0 || v === false || v === null;
  }
}

function toJSON(type, obj) {
  const out = {};
  for (const f of schema[type]) {
    const v = obj[f.name];
    if (isDefault(f, v)) continue;
    out[f.name] = f.repeated ? v.map((x) => toJSONValue(f, x)) : toJSONValue(f, v);
  }
  return out;
}

function decodeCase(frame) {
  const d = decodeFrame(unb64(frame));
  return { decodedType: d.type, decoded: toJSON(d.type, d.msg), msg: d.msg };
}

const fixture = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const result = { samples: [], accepted: [], malformed: [] };

for (const s of fixture.samples) {
  const encoded = b64(encodeFrame(s.type, fromJSON(s.type, s.json)));
  const { decodedType, decoded, msg } = decodeCase(s.frame);
  const reencoded = b64(encodeFrame(decodedType, msg));
  result.samples.push({ type: s.type, encoded, decodedType, decoded, reencoded });
}
for (const a of fixture.accepted) {
  const { decodedType, decoded } = decodeCase(a.frame);
  result.accepted.push({ name: a.name, decodedType, decoded });
}
for (const m of fixture.malformed) {
  try {
    const d = decodeFrame(unb64(m.frame));
    result.malformed.push({ name: m.name, threw: false, error: `decoded as ${d.type}` });
  } catch (e) {
    result.malformed.push({ name: m.name, threw: true, error: `${e.name}: ${e.message}` });
  }
}
process.stdout.write(JSON.stringify(result));
