// Usage: node decrypt.mjs IDENTITIES_FILE < CIPHERTEXT > PLAINTEXT
// Decrypts standard input (binary or armored) with every identity in the file (age -i format).
import { Decrypter, armor } from "age-encryption";
import { readKeyLines, readStdin, run, writeStdout } from "./common.mjs";

const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";

run(async () => {
    const path = process.argv[2];
    if (path === undefined) {
        throw new Error("usage: node decrypt.mjs IDENTITIES_FILE");
    }
    const decrypter = new Decrypter();
    const identities = readKeyLines(path);
    if (identities.length === 0) {
        throw new Error(`no identities in ${path}`);
    }
    for (const identity of identities) {
        decrypter.addIdentity(identity);
    }
    let input = await readStdin();
    const text = new TextDecoder("utf-8", { fatal: false }).decode(input.subarray(0, 64));
    if (text.trimStart().startsWith(ARMOR_BEGIN)) {
        input = armor.decode(new TextDecoder("utf-8", { fatal: true }).decode(input));
    }
    await writeStdout(await decrypter.decrypt(input));
});
