// The replies page (/<lang>/replies.html): the witness types their codename; it is checked
// and turned into the mailbox secret and reply key on this device (codename.js). The secret
// goes to the server in a request body (never the URL); each reply comes back sealed and is
// opened here. The typed codename is cleared from the field as soon as it is read, and
// nothing is stored.

import { checkCodename, deriveV2 } from "./codename.js";
import { fetchReply, mailbox } from "./api.js";
import { openReply } from "./reply.js";
import { hex } from "./bytes.js";
import { formatDate, t } from "./i18n.js";
import { $, clearError, el, scriptsOn, setStatus, showError } from "./ui-dom.js";
import { messageFor } from "./ui-errors.js";

let busy = false;

async function open() {
  const input = $("codename-input");
  clearError();
  let codename;
  try {
    codename = checkCodename(input.value);
  } catch (error) {
    // The typed words stay for the witness to correct; the message names a position only.
    showError(messageFor(error, "codename"));
    input.focus();
    return;
  }
  input.value = "";
  busy = true;
  $("open-replies").disabled = true;
  const list = $("replies");
  list.replaceChildren();
  setStatus("msg.replies.opening");
  try {
    const keys = await deriveV2(codename);
    codename = null;
    const secret = hex(keys.mailboxSecret);
    const replies = await mailbox(secret);
    let shown = 0;
    for (const reply of replies) {
      const item = el("li", { class: "reply" });
      item.append(el("p", { class: "reply-date", text: t("msg.reply.received", { date: formatDate(reply.received) }) }));
      try {
        const sealed = await fetchReply(reply.id, secret);
        item.append(el("div", { class: "reply-text", dir: "auto", text: await openReply(sealed, keys.identity) }));
        shown += 1;
      } catch (error) {
        if (error && error.name === "ApiError") throw error;
        item.classList.add("damaged");
        item.append(el("p", { class: "reply-text warning", text: t("msg.reply.damaged") }));
      }
      list.append(item);
    }
    setStatus(replies.length ? "msg.replies.count" : "msg.replies.none", { count: replies.length });
    if (!shown && replies.length === 0) list.replaceChildren();
  } catch (error) {
    setStatus(null);
    showError(messageFor(error, "replies"));
  } finally {
    busy = false;
    $("open-replies").disabled = false;
  }
}

function setUp() {
  $("error").hidden = true;
  $("replies-form").addEventListener("submit", (event) => event.preventDefault());
  $("open-replies").addEventListener("click", () => {
    if (!busy) open();
  });
  // Enter in the codename field opens the answers (Shift+Enter is a new line).
  $("codename-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (!busy) open();
    }
  });
  scriptsOn();
}

setUp();
