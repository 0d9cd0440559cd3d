// Usage: node recipients.mjs IDENTITIES_FILE
// Prints the recipient of each identity in the file, one per line (like age-keygen -y).
import { identityToRecipient } from "age-encryption";
import { readKeyLines, run, writeStdout } from "./common.mjs";

run(async () => {
    const path = process.argv[2];
    if (path === undefined) {
        throw new Error("usage: node recipients.mjs IDENTITIES_FILE");
    }
    const lines = [];
    for (const identity of readKeyLines(path)) {
        lines.push(await identityToRecipient(identity));
    }
    await writeStdout(lines.map((line) => `${line}\n`).join(""));
});
