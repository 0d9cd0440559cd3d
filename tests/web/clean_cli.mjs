// Runs web/src/clean.js on files for tests/web/test_clean_js.py:
//   node clean_cli.mjs IN OUT [IN OUT ...]
// cleans each IN (read as a Blob, as the page gets it from a file input), writes the
// cleaned bytes to OUT, and prints a JSON array with one result per file:
// {status, mediaType, sha256Before, sha256After, orientation} or {error, code}.
import { readFile, writeFile } from "node:fs/promises";
import { CleanError, cleanFile } from "../../web/src/clean.js";

const args = process.argv.slice(2);
if (args.length === 0 || args.length % 2 !== 0) {
  process.stderr.write("usage: node clean_cli.mjs IN OUT [IN OUT ...]\n");
  process.exit(2);
}
const results = [];
for (let i = 0; i < args.length; i += 2) {
  const blob = new Blob([await readFile(args[i])]);
  try {
    const { data, ...rest } = await cleanFile(blob);
    await writeFile(args[i + 1], data);
    results.push(rest);
  } catch (error) {
    if (!(error instanceof CleanError)) throw error;
    results.push({ error: error.message, code: error.code });
  }
}
process.stdout.write(JSON.stringify(results) + "\n");
