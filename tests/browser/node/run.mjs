// Runs one scenario for a Python test: `node run.mjs` with a JSON object on standard input
// ({"scenario": NAME, ...its inputs}). Secrets (codenames) come only this way, never in
// argv. Writes JSON lines on standard output: {"event": ...} while the scenario runs, then
// one {"result": ...} or {"error": ...}; exits 0 or 1 accordingly.

import * as bench from "./bench.mjs";
import * as tests from "./scenarios.mjs";

const scenarios = { ...tests, ...bench };

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function write(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

const input = await readStdin();
const scenario = scenarios[input.scenario];
let status = 0;
if (typeof scenario !== "function") {
  write({ error: `no scenario ${JSON.stringify(input.scenario)}` });
  status = 2;
} else {
  try {
    const result = await scenario(input, (event) => write(event));
    write({ result });
  } catch (error) {
    write({
      error: String(error && error.message),
      stack: String(error && error.stack),
      screenshot: error && error.screenshot,
      pageText: error && error.pageText,
      records: error && error.records,
    });
    status = 1;
  }
}
// Browsers' child processes may hold the event loop; leave once the answer is written.
process.stdout.write("", () => process.exit(status));
