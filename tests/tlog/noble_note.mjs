// Hybrid signed notes checked and made by @noble/post-quantum (ML-DSA-44) and @noble/curves
// (Ed25519), code nobody here wrote. Key ids and the note layout are computed here from
// C2SP signed-note and docs/FORMAT.md, not taken from amanat.
//
//   node noble_note.mjs <node_modules dir> verify   (stdin: JSON {note, vkeys})
//   node noble_note.mjs <node_modules dir> sign     (stdin: JSON {text, name, edSeed, mlSeed})
import { createHash } from 'node:crypto';
import { b64, ed25519, enc, input, ml_dsa44, mode, unb64 } from '../noble_io.mjs';
const MLDSA = Buffer.concat([Buffer.from([0xff]), Buffer.from('amanat/ml-dsa-44')]);
const keyId = (name, type, key) =>
  createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`), type, key])).digest().subarray(0, 4);

if (mode === 'verify') {
  const split = input.note.lastIndexOf('\n\n');
  const text = enc.encode(input.note.slice(0, split + 1));
  const lines = input.note.slice(split + 2, -1).split('\n');
  const results = input.vkeys.map((vkey) => {
    const [name, idHex] = vkey.split('+', 2);
    const keyB64 = vkey.slice(name.length + idHex.length + 2);
    const raw = Buffer.from(keyB64, 'base64');
    const pq = raw[0] === 0xff;
    const key = pq ? raw.subarray(MLDSA.length) : raw.subarray(1);
    if (keyId(name, pq ? MLDSA : Buffer.from([1]), key).toString('hex') !== idHex) return false;
    for (const line of lines) {
      const [, lineName, sigB64] = line.split(' ');
      const blob = unb64(sigB64);
      if (lineName !== name || Buffer.from(blob.slice(0, 4)).toString('hex') !== idHex) continue;
      const sig = blob.slice(4);
      return pq ? ml_dsa44.verify(sig, text, key) : ed25519.verify(sig, text, key);
    }
    return false;
  });
  process.stdout.write(JSON.stringify(results));
} else {
  const text = enc.encode(input.text);
  const ml = ml_dsa44.keygen(unb64(input.mlSeed));
  const edSeed = unb64(input.edSeed);
  const edPublic = ed25519.getPublicKey(edSeed);
  const line = (type, key, sig) =>
    `\u2014 ${input.name} ${b64(Buffer.concat([keyId(input.name, type, key), sig]))}\n`;
  const note = `${input.text}\n${line(Buffer.from([1]), edPublic, ed25519.sign(text, edSeed))}`
    + line(MLDSA, ml.publicKey, ml_dsa44.sign(text, ml.secretKey));
  process.stdout.write(JSON.stringify({ note, edPublic: b64(edPublic), mlPublic: b64(ml.publicKey) }));
}
