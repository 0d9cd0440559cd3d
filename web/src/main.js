// The submission page (/<lang>/): the witness writes, attaches, and sends. Everything is
// done on this device: the roster is checked against the organization key the page pins,
// files are cleaned, the testimony is bundled, padded and sealed to the roster's readers,
// and only the sealed bytes leave, by a resumable upload. The receipt is checked against
// the log key the verified roster names before the witness is told it arrived.
//
// Nothing is stored: no localStorage, sessionStorage, IndexedDB, cookies or URL state.
// The sealed file is held in memory (a Blob) until its receipt arrives, so a failed upload
// can be sent again without sealing again; the codename is shown once and then removed.

import { orgFingerprint } from "./fingerprint.js";
import { verifyRoster } from "./roster.js";
import { newCodename, deriveV2 } from "./codename.js";
import { SCHEMA_ID, neutralName } from "./manifest.js";
import { bundle } from "./bundle.js";
import { seal } from "./seal.js";
import { getRoster } from "./api.js";
import { sha256Blob, uploadResumable } from "./upload.js";
import { parseEntry, parseReceipt, receiptFile, verifyReceipt } from "./tlog.js";
import { checkCosigned } from "./cosign.js";
import { formatPercent, formatSize, language, t } from "./i18n.js";
import { $, clearError, download, el, orgKey, scriptsOn, setStatus, showError } from "./ui-dom.js";
import { addPerson, readPersons } from "./ui-persons.js";
import { clearFiles, lockFiles, readyFiles, setUpFiles } from "./ui-files.js";
import { messageFor } from "./ui-errors.js";

let org = "";
let pending = null; // {sealed: Blob, codename, roster}: sealed, not yet delivered
let receiptText = null;
let busy = false;

function setUp() {
  org = orgKey();
  if (org === "") {
    $("config-missing").hidden = false;
    $("testimony").hidden = true;
    $("safety").querySelector(".fingerprint").hidden = true;
  } else {
    try {
      $("org-fingerprint").textContent = orgFingerprint(org);
    } catch {
      org = "";
      $("config-bad").hidden = false;
      $("testimony").hidden = true;
      $("safety").querySelector(".fingerprint").hidden = true;
    }
  }
  $("add-person").addEventListener("click", () => addPerson());
  setUpFiles();
  // Never a native submission (it would send the words unsealed): #send is a plain button.
  $("testimony").addEventListener("submit", (event) => event.preventDefault());
  $("send").addEventListener("click", () => {
    // Without a valid pinned organization key there is nobody to seal to safely.
    if (!busy && org !== "") send();
  });
  $("receipt-save").addEventListener("click", () => {
    if (receiptText) download("receipt.txt", receiptText);
  });
  $("codename-done").addEventListener("click", forgetCodename);
  // While a sealed testimony waits to be delivered, leaving the page loses it: ask first.
  window.addEventListener("beforeunload", (event) => {
    if (busy || pending !== null) event.preventDefault();
  });
  $("error").hidden = true;
  scriptsOn(); // last: the form shows only once everything above is in place
}

function lockForm(locked) {
  for (const control of $("testimony").querySelectorAll("input, select, textarea, button")) {
    if (control.id !== "send") control.disabled = locked;
  }
  lockFiles(locked);
}

function showProgress(bar, done, total) {
  const progress = $(bar);
  progress.max = total || 1;
  progress.value = Math.min(done, total || 1);
}

/** The manifest's attachment entry (schema amanat/testimony/v2) of a cleaned file. */
function attachmentEntry(file, position) {
  const entry = {
    name: neutralName(position, file.mediaType),
    media_type: file.mediaType,
    size: file.data.length,
    sha256_before_cleaning: file.sha256Before,
    sha256_after_cleaning: file.sha256After,
    metadata_kept: file.metadataKept,
  };
  if (Number.isInteger(file.orientation) && file.orientation !== 1 && !file.metadataKept) {
    entry.orientation = file.orientation;
  }
  return entry;
}

/** Check, seal; returns {sealed, codename, roster} or null when the form needs fixing. */
async function prepare() {
  const statement = $("statement").value;
  const { persons, problems, firstInvalid } = readPersons();
  if (problems.length) {
    showError(problems);
    firstInvalid.focus();
    return null;
  }
  setStatus("msg.status.bundle");
  const { send: files, blocked } = await readyFiles();
  if (blocked.length) {
    // A file the witness chose is never left out without them deciding: tick or remove.
    showError(t("msg.error.filesLeftOut", { count: blocked.length }));
    blocked[0].focus();
    return null;
  }
  if (statement.trim() === "" && persons.length === 0 && files.length === 0) {
    showError(t("msg.error.empty"));
    $("statement").focus();
    return null;
  }
  lockForm(true);
  $("progress").hidden = false;
  showProgress("seal-progress", 0, 1);
  showProgress("upload-progress", 0, 1);
  setStatus("msg.status.roster");
  const roster = verifyRoster(await getRoster(), org);

  let codename = null;
  let reply;
  if ($("want-reply").checked) {
    setStatus("msg.status.codename");
    codename = newCodename();
    const keys = await deriveV2(codename);
    reply = { recipient: keys.recipient, mailbox_id: keys.mailboxId };
  }
  const attachments = files.map((file, i) => attachmentEntry(file, i + 1));
  const manifest = {
    schema: SCHEMA_ID,
    language: language(),
    statement,
    publication_consent: $("consent").value,
    persons,
    attachments,
  };
  if (reply) manifest.reply = reply;
  const plaintext = bundle(manifest, files.map((file, i) => ({ name: attachments[i].name, data: file.data })));
  setStatus("msg.status.seal");
  let stage = "seal";
  try {
    let shown = -1;
    const sealed = await seal(roster.readers, plaintext, (done, total) => {
      showProgress("seal-progress", done, total);
      const tenth = Math.floor((10 * done) / (total || 1));
      if (tenth !== shown) {
        shown = tenth;
        $("seal-progress").setAttribute("aria-valuetext", formatPercent(done / (total || 1)));
      }
    });
    stage = "done";
    return { sealed, codename, roster };
  } catch (error) {
    if (stage === "seal") error.stage = "seal";
    throw error;
  }
}

async function deliver({ sealed, roster }) {
  setStatus("msg.status.upload", { done: formatSize(0), total: formatSize(sealed.size) });
  let lastShown = -1;
  let working = false;
  const answer = await uploadResumable(sealed, {
    onProgress(done, total) {
      showProgress("upload-progress", done, total);
      const step = Math.floor((20 * done) / (total || 1));
      if (step !== lastShown) {
        lastShown = step;
        working = false;
        setStatus("msg.status.upload", { done: formatSize(done), total: formatSize(total) });
      }
    },
    onWait({ reason, seconds }) {
      const key = reason === "unreachable" ? "msg.status.retry" : "msg.status.busyRetry";
      setStatus(key, { count: seconds, seconds });
      lastShown = -1;
      working = false;
    },
    onWork() {
      if (!working) {
        setStatus("msg.status.work");
        // How long a puzzle takes is a matter of luck: the bar moves without a measure.
        $("upload-progress").removeAttribute("value");
      }
      working = true;
    },
  });
  showProgress("upload-progress", sealed.size, sealed.size);
  return answer;
}

/** Check the receipt: the entry names exactly these sealed bytes, and the log (under the
 * key the verified roster names) holds it. Returns the verified index. */
async function checkReceipt(answer, sealed, roster) {
  setStatus("msg.status.receipt");
  const entry = parseEntry(answer.entry);
  const fields = Object.fromEntries(entry.fields);
  const digest = await sha256Blob(sealed);
  if (entry.kind !== "submission" || fields.sha256 !== digest || String(fields.size) !== String(sealed.size) ||
      (answer.id && fields.id !== answer.id)) {
    const error = new Error("the receipt names other bytes");
    error.name = "ReceiptError";
    throw error;
  }
  const proof = verifyReceipt(answer.receipt, roster.logVkey, answer.entry);
  if (roster.cosigning) {
    // The page keeps no state: the receipt's checkpoint counts only when k of the roster's
    // cosigners cosigned it (a forked or rolled-back log cannot gather them).
    checkCosigned(parseReceipt(answer.receipt).checkpoint, roster.cosigning);
  }
  return proof.index;
}

function showCodename(codename) {
  const list = $("codename");
  list.replaceChildren();
  for (const word of codename.split(" ")) {
    list.append(el("li", { text: word }), document.createTextNode("\n"));
  }
  $("codename-box").hidden = false;
}

function forgetCodename() {
  const box = $("codename-box");
  const list = $("codename");
  if (list) list.remove();
  box.replaceChildren(el("p", { class: "codename-gone", text: t("msg.codename.removed"), tabindex: "-1" }));
  box.firstChild.focus();
}

/** The end: the submission's id, whether its receipt verified, and the codename, once. */
function showDone(id, verified, codename, problem) {
  $("receipt-id").textContent = id || "";
  $("receipt-id").parentElement.hidden = !id;
  const line = $("receipt-verified");
  line.textContent = problem || (verified === null ? t("msg.receipt.notVerified") : t("msg.receipt.verified", { index: verified }));
  line.className = problem || verified === null ? "warning" : "ok";
  $("receipt-save").hidden = receiptText === null;
  $("receipt-save-hint").hidden = receiptText === null;
  // Delivered: the words and files leave the page too (a searched phone with the tab still
  // open shows only this).
  $("testimony").reset();
  $("person-list").replaceChildren();
  clearFiles();
  $("testimony").hidden = true;
  $("progress").hidden = true;
  $("safety").hidden = true;
  $("done").hidden = false;
  setStatus(problem ? null : "msg.status.done");
  if (codename) {
    showCodename(codename);
    $("codename-title").focus();
  } else {
    $("done-title").focus();
  }
}

async function send() {
  busy = true;
  clearError();
  $("send").disabled = true;
  let stage = "prepare";
  try {
    if (pending === null) {
      const prepared = await prepare();
      if (prepared === null) {
        setStatus(null);
        return;
      }
      pending = prepared;
    }
    stage = "upload";
    const answer = await deliver(pending);
    stage = "receipt";
    const { sealed, codename, roster } = pending;
    // Delivered: the sealed copy is no longer needed, and nothing is sent again.
    pending = null;
    let verified = null;
    let problem = null;
    try {
      verified = await checkReceipt(answer, sealed, roster);
    } catch (error) {
      if (error && error.name === "CosignError" && error.code === "not-cosigned") {
        problem = t("msg.receipt.notCosigned");
      } else {
        showError(messageFor(error, "receipt"));
      }
    }
    try {
      receiptText = receiptFile(answer.receipt, answer.entry);
    } catch {
      receiptText = null;
    }
    showDone(answer.id, verified, codename, problem);
  } catch (error) {
    if (error && error.name === "UploadError" && error.code === "delivery-unknown" && pending) {
      // Most likely stored, with this reply address: the codename is still the only way to
      // its replies, so it is handed over all the same (as `amanat submit` does).
      const { codename } = pending;
      pending = null;
      showDone(null, null, codename, t("msg.error.deliveryUnknown"));
      return;
    }
    showError(messageFor(error, error && error.stage === "seal" ? "seal" : stage));
    setStatus(null);
    if (pending === null) {
      // Nothing was sealed yet: the witness can change the form and try again.
      lockForm(false);
      $("progress").hidden = true;
    }
  } finally {
    busy = false;
    $("send").disabled = false;
  }
}

setUp();
