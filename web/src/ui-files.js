// Attachments: each chosen file is cleaned on this device as soon as it is chosen (clean.js),
// and listed with its name and size, which are shown back to the witness only (the manifest
// and the bundle use neutral names). A file that cannot be cleaned is sent only if the
// witness ticks its "send it anyway" box (input.keep-metadata), and is then marked
// metadata_kept.

import { cleanFile, sniff } from "./clean.js";
import { formatSize, t } from "./i18n.js";
import { $, el } from "./ui-dom.js";

const chosen = []; // {file, li, state: "cleaning" | "cleaned" | "unsupported" | "unreadable", result, keep}
let made = 0;

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The result of cleaning, or of a file clean.js could not parse: its own bytes, to be sent
 * as they are only if the witness agrees. */
async function clean(file) {
  try {
    return await cleanFile(file);
  } catch (error) {
    if (error && error.name !== "CleanError") throw error;
    const data = new Uint8Array(await file.arrayBuffer());
    const digest = await sha256Hex(data);
    return { status: "unsupported", mediaType: sniff(data), data, sha256Before: digest, sha256After: digest, orientation: null };
  }
}

function addFile(file) {
  made += 1;
  const entry = { file, state: "cleaning", result: null, keep: false };
  const status = el("p", { class: "file-status", text: t("msg.file.cleaning") });
  const remove = el("button", { type: "button", class: "secondary small remove-file", text: t("msg.file.remove") });
  const li = el("li", { class: "file cleaning" },
    el("p", { class: "file-name" }, el("bdi", { text: file.name }), " ", el("span", { class: "file-size", text: `(${formatSize(file.size)})` })),
    status);
  li.append(remove);
  entry.li = li;
  remove.addEventListener("click", () => {
    chosen.splice(chosen.indexOf(entry), 1);
    const next = li.nextElementSibling?.querySelector("button") ?? $("files");
    li.remove();
    entry.result = null;
    next.focus();
  });
  chosen.push(entry);
  $("file-list").append(li);
  entry.done = clean(file).then((result) => {
    entry.result = result;
    li.classList.remove("cleaning");
    if (result.status === "cleaned") {
      entry.state = "cleaned";
      li.classList.add("cleaned");
      status.textContent = result.mediaType === "text/plain" ? t("msg.file.text") : t("msg.file.cleaned");
      return;
    }
    entry.state = "unsupported";
    li.classList.add("unsupported");
    status.textContent = t("msg.file.unsupported");
    status.classList.add("warning");
    const id = `keep-${made}`;
    const box = el("input", { type: "checkbox", id, class: "keep-metadata" });
    const note = el("p", { class: "hint", text: t("msg.file.notSent") });
    box.addEventListener("change", () => {
      entry.keep = box.checked;
      note.hidden = box.checked;
    });
    li.insertBefore(el("div", { class: "check" }, box, el("label", { for: id, text: t("msg.file.keep") })), remove);
    li.insertBefore(note, remove);
  }, () => {
    entry.state = "unreadable";
    li.classList.remove("cleaning");
    li.classList.add("unreadable");
    status.textContent = t("msg.file.unreadable");
    status.classList.add("warning");
  });
}

export function setUpFiles() {
  const input = $("files");
  input.addEventListener("change", () => {
    for (const file of input.files) addFile(file);
    // The list is kept here; the input is emptied so that choosing again adds files.
    input.value = "";
  });
}

/** When every chosen file is cleaned: the files to send (in order), and the first control
 * of each file that cannot be sent as the list stands (its box not ticked, or unreadable).
 * Nothing is left out silently: the page refuses to send while any is listed. */
export async function readyFiles() {
  await Promise.all(chosen.map((entry) => entry.done));
  const send = [];
  const blocked = [];
  for (const entry of chosen) {
    if (entry.state === "cleaned") send.push({ ...entry.result, metadataKept: false });
    else if (entry.state === "unsupported" && entry.keep) send.push({ ...entry.result, metadataKept: true });
    else blocked.push(entry.li.querySelector("input.keep-metadata") ?? entry.li.querySelector("button"));
  }
  return { send, blocked };
}

/** Lock the list while sending (removing a file then would change nothing sent). */
export function lockFiles(locked) {
  $("files").disabled = locked;
  for (const control of $("file-list").querySelectorAll("button, input")) control.disabled = locked;
}

/** Forget every chosen file (after delivery: nothing of the testimony stays in the page). */
export function clearFiles() {
  chosen.length = 0;
  $("file-list").replaceChildren();
}
