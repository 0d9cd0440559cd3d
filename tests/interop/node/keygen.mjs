// Usage: node keygen.mjs pq|x25519
// Prints a new identity in age-keygen's file format ("# public key: ..." then the key).
import { generateHybridIdentity, generateX25519Identity, identityToRecipient } from "age-encryption";
import { run, writeStdout } from "./common.mjs";

run(async () => {
    const kind = process.argv[2];
    let identity;
    if (kind === "pq") {
        identity = await generateHybridIdentity();
    } else if (kind === "x25519") {
        identity = await generateX25519Identity();
    } else {
        throw new Error("usage: node keygen.mjs pq|x25519");
    }
    const recipient = await identityToRecipient(identity);
    await writeStdout(`# public key: ${recipient}\n${identity}\n`);
});
