// What the tests' @noble scripts share: the node_modules directory and mode from argv, the
// ML-DSA-44 and Ed25519 modules loaded from it, the JSON input on stdin, base64 helpers.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const [modules, mode] = process.argv.slice(2);
const load = (p) => import(pathToFileURL(`${modules}/${p}`).href);
export const { ml_dsa44 } = await load('@noble/post-quantum/ml-dsa.js');
export const { ed25519 } = await load('@noble/curves/ed25519.js');
export const input = JSON.parse(readFileSync(0, 'utf8'));
export const enc = new TextEncoder();
export const b64 = (bytes) => Buffer.from(bytes).toString('base64');
export const unb64 = (text) => new Uint8Array(Buffer.from(text, 'base64'));
