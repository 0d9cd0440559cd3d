// Loading the shared vectors written by `python -m tests.web.make_vectors`.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const DIR = fileURLToPath(new URL("../../tests/web/vectors/", import.meta.url));

/** The parsed vector file `name`, or null when it is absent (tests then skip, saying so). */
export function vectors(name) {
  const path = DIR + name;
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, "utf8"));
}

export function skipMessage(name) {
  return `tests/web/vectors/${name} is absent: run python -m tests.web.make_vectors`;
}

export function fromB64(text) {
  return new Uint8Array(Buffer.from(text, "base64"));
}
