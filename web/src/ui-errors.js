// What a module's error means to the witness: each error class has a stable `code` (and
// ApiError an HTTP `status`); this maps them to catalog messages. Technical text from an
// error is never shown: it is in English and may confuse more than help.

import { t } from "./i18n.js";

export function messageFor(error, stage) {
  const name = error && error.name;
  const code = error && error.code;
  if (name === "RosterError") {
    if (code === "expired") return t("msg.error.roster.expired");
    if (code === "no-readers") return t("msg.error.roster.empty");
    return t("msg.error.roster");
  }
  if (name === "CodenameError") {
    if (code === "count") return t("msg.codename.count", { count: error.count ?? 0 });
    if (code === "word") return t("msg.codename.word", { position: error.position ?? 0 });
    return t("msg.codename.checksum");
  }
  if (name === "ReceiptError" || name === "CosignError") return t("msg.error.receipt");
  if (name === "UploadError") {
    if (code === "gave-up") return t("msg.error.gaveUp");
    if (code === "gone") return t("msg.error.gone");
    if (code === "delivery-unknown") return t("msg.error.deliveryUnknown");
    if (code === "integrity") return t("msg.error.integrity");
    if (error.status === 413 || error.status === 507) return t("msg.error.tooLarge");
    return t("msg.error.refused");
  }
  if (name === "ApiError") {
    const status = error.status;
    if (status === 413 || status === 507) return t("msg.error.tooLarge");
    if (status === 429 || status === 503 || status === 502 || status === 504 || status === 428) {
      return stage === "replies" ? t("msg.error.replies") : t("msg.error.busy");
    }
    if (status === 0) return stage === "replies" ? t("msg.error.replies") : t("msg.error.network");
    return stage === "replies" ? t("msg.error.replies") : t("msg.error.refused");
  }
  if (error instanceof TypeError && stage !== "seal") {
    // fetch() rejects with a TypeError when the network fails.
    return stage === "replies" ? t("msg.error.replies") : t("msg.error.network");
  }
  if (name === "SealError" || name === "BundleError" || stage === "seal") return t("msg.error.seal");
  return t("msg.error.unexpected");
}
