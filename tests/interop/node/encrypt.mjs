// Usage: node encrypt.mjs [--armor] RECIPIENTS_FILE < PLAINTEXT > CIPHERTEXT
// Encrypts standard input to every recipient listed in the file (age -R format).
import { Encrypter, armor } from "age-encryption";
import { readKeyLines, readStdin, run, writeStdout } from "./common.mjs";

run(async () => {
    const args = process.argv.slice(2);
    const armored = args[0] === "--armor";
    const path = armored ? args[1] : args[0];
    if (path === undefined) {
        throw new Error("usage: node encrypt.mjs [--armor] RECIPIENTS_FILE");
    }
    const encrypter = new Encrypter();
    const recipients = readKeyLines(path);
    if (recipients.length === 0) {
        throw new Error(`no recipients in ${path}`);
    }
    for (const recipient of recipients) {
        encrypter.addRecipient(recipient);
    }
    const ciphertext = await encrypter.encrypt(await readStdin());
    await writeStdout(armored ? armor.encode(ciphertext) : ciphertext);
});
