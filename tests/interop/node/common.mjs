// Shared helpers for the interop scripts: read all of stdin, read key files, fail loudly.
import { readFileSync } from "node:fs";

// Read every byte of standard input into one Uint8Array.
export async function readStdin() {
    const chunks = [];
    for await (const chunk of process.stdin) {
        chunks.push(chunk);
    }
    return new Uint8Array(Buffer.concat(chunks));
}

// Key lines of an age recipients or identities file: blank lines and '#' comments skipped.
export function readKeyLines(path) {
    return readFileSync(path, "utf8")
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"));
}

// Write bytes to standard output and wait until they are flushed.
export function writeStdout(bytes) {
    return new Promise((resolve, reject) => {
        process.stdout.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
}

// Run main(); any error becomes one line on stderr and exit status 1.
export function run(main) {
    main().catch((err) => {
        process.stderr.write(`${err && err.message ? err.message : err}\n`);
        process.exit(1);
    });
}
