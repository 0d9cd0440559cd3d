// The witness page's HTML, written at build time from a catalog, the testimony schema and
// the built assets. Pure functions of their arguments: the same input gives the same bytes.
//
// Every page: no inline script or style (the CSP is default-src 'self'), <html lang dir>,
// the organization placeholder <meta name="amanat-org" content=""> exactly once (`amanat
// serve` writes the organization's verifier key there), a <noscript> explanation in the
// page's language, and the form hidden until the page's script has started (class no-js).

export const ORG_META = '<meta name="amanat-org" content="">';

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text or attribute value, HTML-escaped. */
export function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** JSON for a <script type="application/json"> block: "<" never appears raw, so the
 * block cannot be closed or commented from inside. */
export function jsonBlock(value) {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function head(cat, title, assets, script) {
  const lines = [
    "<!doctype html>",
    `<html lang="${esc(cat["meta.tag"])}" dir="${esc(cat["meta.dir"])}" class="no-js">`,
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    ORG_META,
    `<title>${esc(title)}</title>`,
    `<link rel="icon" href="/${assets.icon.path}" type="image/svg+xml">`,
    `<link rel="stylesheet" href="/${assets.css.path}" integrity="${assets.css.integrity}">`,
  ];
  if (script) {
    lines.push(`<script type="module" src="/${script.path}" integrity="${script.integrity}"></script>`);
  }
  lines.push("</head>");
  return lines.join("\n");
}

function siteHeader(cat, lang, current) {
  const other = current === "submit"
    ? `<a href="/${lang}/replies.html">${esc(cat["nav.replies"])}</a>`
    : `<a href="/${lang}/">${esc(cat["nav.submit"])}</a>`;
  return [
    '<header class="site">',
    `<p class="site-name"><a href="/${lang}/">${esc(cat["site.name"])}</a></p>`,
    '<nav class="site-nav">',
    other,
    `<a href="/">${esc(cat["nav.languages"])}</a>`,
    "</nav>",
    "</header>",
  ].join("\n");
}

function siteFooter(cat) {
  return [
    '<footer class="site">',
    `<p><a href="/assets/licenses.txt">${esc(cat["nav.licenses"])}</a></p>`,
    "</footer>",
  ].join("\n");
}

function noscript(cat, page) {
  const why = page === "replies" ? cat["noscript.replies"] : cat["noscript.why"];
  const cli = page === "replies" ? cat["noscript.cli.replies"] : cat["noscript.cli"];
  const items = [cat["noscript.safer"], cli];
  if (page !== "replies") items.push(cat["noscript.collector"]);
  return [
    "<noscript>",
    '<section class="notice noscript">',
    `<h2>${esc(cat["noscript.title"])}</h2>`,
    `<p>${esc(why)}</p>`,
    `<p>${esc(cat["noscript.what"])}</p>`,
    "<ul>",
    ...items.map((item) => `<li>${esc(item)}</li>`),
    "</ul>",
    "</section>",
    "</noscript>",
    `<p class="js-wait">${esc(cat["js.wait"])}</p>`,
  ].join("\n");
}

function catalogBlock(cat) {
  const dynamic = {};
  for (const key of Object.keys(cat).sort()) {
    if (key.startsWith("msg.") || key.startsWith("meta.")) dynamic[key] = cat[key];
  }
  return `<script type="application/json" id="amanat-catalog">${jsonBlock(dynamic)}</script>`;
}

// --- the structured questions, from docs/testimony.schema.json ------------------------------

/** The person fields of the schema, in its order, as a tree:
 * [{path, kind: "group" | "text" | "textarea" | "integer" | "date" | "enum", ...}]. */
export function personFields(schema) {
  const defs = schema.$defs;
  const walk = (properties, prefix) => Object.entries(properties).map(([key, spec]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    if (spec.$ref) {
      const ref = spec.$ref.replace("#/$defs/", "");
      if (ref !== "approximate_date") throw new Error(`schema: unknown reference ${spec.$ref}`);
      return { path, kind: "date", pattern: defs[ref].pattern };
    }
    if (spec.enum) return { path, kind: "enum", values: spec.enum, field: key };
    if (spec.type === "object") return { path, kind: "group", children: walk(spec.properties, path) };
    if (spec.type === "integer") return { path, kind: "integer", min: spec.minimum, max: spec.maximum };
    if (spec.type === "string") {
      return { path, kind: spec.maxLength > 300 ? "textarea" : "text", maxLength: spec.maxLength };
    }
    throw new Error(`schema: person field ${path} has a type the page cannot ask for`);
  });
  return walk(defs.person.properties, "");
}

/** Catalog keys the questions need (the build fails if en.json lacks one). */
export function questionKeys(schema) {
  const keys = [];
  const visit = (fields) => {
    for (const f of fields) {
      keys.push(`person.${f.path}`);
      if (f.kind === "enum") for (const v of f.values) keys.push(`enum.${f.field}.${v}`);
      if (f.kind === "group") visit(f.children);
    }
  };
  visit(personFields(schema));
  for (const v of schema.properties.publication_consent.enum) keys.push(`enum.consent.${v}`);
  return keys;
}

function fieldId(path) {
  return `p0-${path.replace(/[._]/g, "-")}`;
}

function hintFor(cat, key, id) {
  return cat[`${key}.hint`] === undefined ? "" : `<p class="hint" id="${id}-hint">${esc(cat[`${key}.hint`])}</p>`;
}

function questionHtml(cat, field, required) {
  const key = `person.${field.path}`;
  const id = fieldId(field.path);
  if (field.kind === "group") {
    return [
      `<fieldset class="group" data-group="${esc(field.path)}">`,
      `<legend>${esc(cat[key])}</legend>`,
      hintFor(cat, key, id),
      ...field.children.map((child) => questionHtml(cat, child, required)),
      "</fieldset>",
    ].filter(Boolean).join("\n");
  }
  const hint = hintFor(cat, key, id);
  const described = [];
  if (hint) described.push(`${id}-hint`);
  if (field.kind === "date") described.push(`${id}-datehint`);
  const aria = described.length ? ` aria-describedby="${described.join(" ")}"` : "";
  const name = `name="${esc(field.path)}"`;
  let control;
  if (field.kind === "enum") {
    const isRequired = required.includes(field.path);
    const options = [];
    if (!isRequired) options.push(`<option value="" selected>${esc(cat["form.choose"])}</option>`);
    for (const value of field.values) {
      const selected = isRequired && value === "unknown" ? " selected" : "";
      options.push(`<option value="${esc(value)}"${selected}>${esc(cat[`enum.${field.field}.${value}`])}</option>`);
    }
    control = `<select id="${id}" ${name}${aria}>\n${options.join("\n")}\n</select>`;
  } else if (field.kind === "integer") {
    control = `<input type="text" id="${id}" ${name} class="number" inputmode="numeric" autocomplete="off" maxlength="4" data-kind="integer" data-min="${field.min}" data-max="${field.max}"${aria}>`;
  } else if (field.kind === "date") {
    control = `<input type="text" id="${id}" ${name} class="date" dir="ltr" autocomplete="off" spellcheck="false" maxlength="50" data-kind="date" data-pattern="${esc(field.pattern)}"${aria}>`;
  } else if (field.kind === "textarea") {
    control = `<textarea id="${id}" ${name} rows="3" autocomplete="off" spellcheck="false" maxlength="${field.maxLength}"${aria}></textarea>`;
  } else {
    // A name in Latin letters runs left to right whatever the page's direction.
    const dir = field.path === "name_latin" ? ' dir="ltr"' : "";
    control = `<input type="text" id="${id}" ${name}${dir} autocomplete="off" spellcheck="false" maxlength="${field.maxLength}"${aria}>`;
  }
  const dateHint = field.kind === "date"
    ? `<p class="hint" id="${id}-datehint">${esc(cat["form.date.hint"])}</p>` : "";
  return [
    `<div class="field field-${field.kind}">`,
    `<label for="${id}">${esc(cat[key])}</label>`,
    hint,
    dateHint,
    control,
    "</div>",
  ].filter(Boolean).join("\n");
}

function personTemplate(cat, schema) {
  const required = schema.$defs.person.required;
  return [
    '<template id="person-template">',
    '<fieldset class="person">',
    '<legend class="person-legend"></legend>',
    ...personFields(schema).map((f) => questionHtml(cat, f, required)),
    `<button type="button" class="remove-person secondary">${esc(cat["form.person.remove"])}</button>`,
    "</fieldset>",
    "</template>",
  ].join("\n");
}

// --- pages -----------------------------------------------------------------------------------

export function submitPage({ lang, cat, schema, assets }) {
  const consent = schema.properties.publication_consent.enum.map((value) =>
    `<option value="${esc(value)}"${value === "none" ? " selected" : ""}>${esc(cat[`enum.consent.${value}`])}</option>`);
  return [
    head(cat, cat["title.submit"], assets, assets.main),
    "<body>",
    siteHeader(cat, lang, "submit"),
    '<main id="main">',
    `<h1>${esc(cat["nav.submit"])}</h1>`,
    `<p class="tagline">${esc(cat["site.tagline"])}</p>`,
    noscript(cat, "submit"),
    '<div class="js-only">',
    '<section id="safety" class="notice" aria-labelledby="safety-title">',
    `<h2 id="safety-title">${esc(cat["safety.title"])}</h2>`,
    "<ul>",
    `<li>${esc(cat["safety.tor"])}</li>`,
    `<li>${esc(cat["safety.device"])}</li>`,
    `<li>${esc(cat["safety.see"])}</li>`,
    `<li>${esc(cat["safety.codename"])}</li>`,
    `<li>${esc(cat["safety.nothingKept"])}</li>`,
    "</ul>",
    '<div class="fingerprint">',
    `<p>${esc(cat["safety.fingerprint"])}</p>`,
    '<p><code id="org-fingerprint" dir="ltr"></code></p>',
    `<p>${esc(cat["safety.compare"])}</p>`,
    "</div>",
    "</section>",
    `<p id="config-missing" class="problem" hidden>${esc(cat["config.missing"])}</p>`,
    `<p id="config-bad" class="problem" hidden>${esc(cat["config.bad"])}</p>`,
    // Not a form that can be submitted: #send is a plain button (no submit button, several
    // text fields, so Enter submits nothing), and the page's script does the sending. A
    // native submission would send the words unsealed.
    // autocomplete="off" on the form too: browsers keep the state of selects and checkboxes
    // without it in their session files on disk. spellcheck="false": some browsers' spell
    // checkers send what is typed to a cloud service.
    '<form id="testimony" novalidate autocomplete="off">',
    '<fieldset class="section">',
    `<legend>${esc(cat["form.statement.legend"])}</legend>`,
    `<label for="statement">${esc(cat["form.statement.label"])}</label>`,
    `<p class="hint" id="statement-hint">${esc(cat["form.statement.hint"])}</p>`,
    '<textarea id="statement" name="statement" rows="10" autocomplete="off" spellcheck="false" maxlength="1000000" aria-describedby="statement-hint"></textarea>',
    "</fieldset>",
    '<fieldset class="section" id="persons">',
    `<legend>${esc(cat["form.persons.legend"])}</legend>`,
    `<p class="hint">${esc(cat["form.persons.hint"])}</p>`,
    '<div id="person-list"></div>',
    `<button type="button" id="add-person" class="secondary">${esc(cat["form.persons.add"])}</button>`,
    "</fieldset>",
    '<fieldset class="section">',
    `<legend>${esc(cat["form.files.legend"])}</legend>`,
    `<label for="files">${esc(cat["form.files.label"])}</label>`,
    `<p class="hint" id="files-hint">${esc(cat["form.files.hint"])}</p>`,
    '<input type="file" id="files" multiple aria-describedby="files-hint">',
    '<ul id="file-list"></ul>',
    "</fieldset>",
    '<fieldset class="section">',
    `<legend>${esc(cat["form.consent.legend"])}</legend>`,
    `<label for="consent">${esc(cat["form.consent.label"])}</label>`,
    `<select id="consent" name="consent">\n${consent.join("\n")}\n</select>`,
    "</fieldset>",
    '<fieldset class="section">',
    `<legend>${esc(cat["form.reply.legend"])}</legend>`,
    '<div class="check">',
    '<input type="checkbox" id="want-reply" name="want-reply" checked aria-describedby="want-reply-hint">',
    `<label for="want-reply">${esc(cat["form.reply.label"])}</label>`,
    "</div>",
    `<p class="hint" id="want-reply-hint">${esc(cat["form.reply.hint"])}</p>`,
    "</fieldset>",
    `<p class="hint" id="send-hint">${esc(cat["form.send.hint"])}</p>`,
    `<button type="button" id="send" class="primary" aria-describedby="send-hint">${esc(cat["form.send"])}</button>`,
    "</form>",
    '<div id="progress" class="progress" hidden>',
    `<label for="seal-progress">${esc(cat["progress.seal"])}</label>`,
    '<progress id="seal-progress" max="1" value="0"></progress>',
    `<label for="upload-progress">${esc(cat["progress.upload"])}</label>`,
    '<progress id="upload-progress" max="1" value="0"></progress>',
    "</div>",
    '<p id="status" role="status" aria-live="polite"></p>',
    '<p id="error" role="alert"></p>',
    '<section id="done" hidden aria-labelledby="done-title">',
    `<h2 id="done-title" tabindex="-1">${esc(cat["done.title"])}</h2>`,
    `<p>${esc(cat["done.id"])} <code id="receipt-id" dir="ltr"></code></p>`,
    '<p id="receipt-verified"></p>',
    `<p class="hint" id="receipt-save-hint">${esc(cat["done.save.hint"])}</p>`,
    `<button type="button" id="receipt-save" class="secondary" aria-describedby="receipt-save-hint">${esc(cat["done.save"])}</button>`,
    '<div id="codename-box" class="codename-box" hidden>',
    `<h2 id="codename-title" tabindex="-1">${esc(cat["codename.title"])}</h2>`,
    '<ol id="codename" class="codename" lang="en" dir="ltr" aria-labelledby="codename-title"></ol>',
    `<p>${esc(cat["codename.advice1"])}</p>`,
    `<p>${esc(cat["codename.advice2"])}</p>`,
    `<p><strong>${esc(cat["codename.advice3"])}</strong></p>`,
    `<button type="button" id="codename-done" class="primary">${esc(cat["codename.done"])}</button>`,
    "</div>",
    "</section>",
    personTemplate(cat, schema),
    "</div>",
    "</main>",
    siteFooter(cat),
    catalogBlock(cat),
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

export function repliesPage({ lang, cat, assets }) {
  return [
    head(cat, cat["title.replies"], assets, assets.replies),
    "<body>",
    siteHeader(cat, lang, "replies"),
    '<main id="main">',
    `<h1>${esc(cat["replies.title"])}</h1>`,
    noscript(cat, "replies"),
    '<div class="js-only">',
    '<form id="replies-form" novalidate autocomplete="off">',
    `<label for="codename-input">${esc(cat["replies.label"])}</label>`,
    `<p class="hint" id="codename-input-hint">${esc(cat["replies.intro"])}</p>`,
    '<textarea id="codename-input" rows="3" lang="en" dir="ltr" autocomplete="off" autocapitalize="none" autocorrect="off" spellcheck="false" aria-describedby="codename-input-hint"></textarea>',
    `<button type="button" id="open-replies" class="primary">${esc(cat["replies.open"])}</button>`,
    "</form>",
    '<p id="status" role="status" aria-live="polite"></p>',
    '<p id="error" role="alert"></p>',
    '<ul id="replies" class="replies"></ul>',
    "</div>",
    "</main>",
    siteFooter(cat),
    catalogBlock(cat),
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/** `/`: the languages, each by its own name, in its own script and direction. Works
 * without scripts (it has none). */
export function rootPage({ langs, cats, assets }) {
  const en = cats.en;
  const items = langs.map((lang) => {
    const cat = cats[lang];
    return [
      `<li lang="${esc(cat["meta.tag"])}" dir="${esc(cat["meta.dir"])}">`,
      `<a href="/${lang}/"><span class="language-name">${esc(cat["meta.name"])}</span>`,
      `<span class="language-line">${esc(cat["nav.submit"])}</span></a>`,
      "</li>",
    ].join("\n");
  });
  // The name once per spelling (Amanat, ئامانەت, Аманат), in the first language using it.
  const names = langs.filter((l, i) => langs.findIndex((m) => cats[m]["site.name"] === cats[l]["site.name"]) === i);
  return [
    "<!doctype html>",
    '<html lang="mul" dir="ltr">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    ORG_META,
    `<title>${esc(names.map((l) => cats[l]["site.name"]).join(" · "))}</title>`,
    `<link rel="icon" href="/${assets.icon.path}" type="image/svg+xml">`,
    `<link rel="stylesheet" href="/${assets.css.path}" integrity="${assets.css.integrity}">`,
    "</head>",
    '<body class="root">',
    '<main id="main">',
    `<h1 class="root-title">${names.map((l) => `<span lang="${esc(cats[l]["meta.tag"])}" dir="${esc(cats[l]["meta.dir"])}">${esc(cats[l]["site.name"])}</span>`).join(" ")}</h1>`,
    '<ul class="languages">',
    ...items,
    "</ul>",
    "</main>",
    `<footer class="site"><p lang="en"><a href="/assets/licenses.txt">${esc(en["nav.licenses"])}</a></p></footer>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
