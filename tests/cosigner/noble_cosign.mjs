// Cosignatures checked and made by @noble/post-quantum (ML-DSA-44) and @noble/curves
// (Ed25519), code nobody here wrote. The messages are built here from the C2SP
// tlog-cosignature text, not taken from amanat.
//
//   node noble_cosign.mjs <node_modules dir> verify   (stdin: JSON {body, lines, keys})
//   node noble_cosign.mjs <node_modules dir> sign     (stdin: JSON {body, name, seed, time})
import { b64, ed25519, enc, input, ml_dsa44, mode, unb64 } from '../noble_io.mjs';
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
