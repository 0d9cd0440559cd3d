// Cosignatures checked and made by @noble/post-quantum (ML-DSA-44) and @noble/curves
// (Ed25519), code nobody here wrote. The messages are built here from the C2SP
// tlog-cosignature text, not taken from amanat.
//
//   node noble_cosign.mjs <node_modules dir> verify   (stdin: JSON {body, lines, keys})
//   node noble_cosign.mjs <node_modules dir> sign     (stdin: JSON {body, name, seed, time})
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [modules, mode] = process.argv.slice(2);
const load = (p) => import(pathToFileURL(`${modules}/${p}`).href);
const { ml_dsa44 } = await load('@noble/post-quantum/ml-dsa.js');
const { ed25519 } = await load('@noble/curves/ed25519.js');
const input = JSON.parse(readFileSync(0, 'utf8'));
const enc = new TextEncoder();
const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const unb64 = (text) => new Uint8Array(Buffer.from(text, 'base64'));
const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };
const concat = (...parts) => new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));

function subtreeMessage(name, time, body) {
  const [origin, size, root] = body.split('\n');
  const n = enc.encode(name), o = enc.encode(origin);
  return concat(enc.encode('subtree/v1\n\0'), [n.length], n, u64(time), [o.length], o,
    u64(0), u64(size), unb64(root));
}

if (mode === 'verify') {
  const results = input.lines.map((line, i) => {
    const [, name, sigB64] = line.trimEnd().split(' ');
    const blob = unb64(sigB64);
    const time = Buffer.from(blob.slice(4, 12)).readBigUInt64BE();
    const key = unb64(input.keys[i]);
    if (key[0] === 0x04) {
      const msg = concat(enc.encode(`cosignature/v1\ntime ${time}\n`), enc.encode(input.body));
      return ed25519.verify(blob.slice(12), msg, key.slice(1));
    }
    return ml_dsa44.verify(blob.slice(12), subtreeMessage(name, time, input.body), key.slice(1));
  });
  process.stdout.write(JSON.stringify(results));
} else {
  const { secretKey, publicKey } = ml_dsa44.keygen(unb64(input.seed));
  const sig = ml_dsa44.sign(subtreeMessage(input.name, input.time, input.body), secretKey);
  process.stdout.write(JSON.stringify({ publicKey: b64(publicKey), signature: b64(sig) }));
}
