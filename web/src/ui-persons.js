// The repeatable "detained person" questions: each is a copy of <template id="person-template">
// (built from docs/testimony.schema.json), read back into manifest person objects.

import { t } from "./i18n.js";
import { $, asciiDigits } from "./ui-dom.js";
import { dateSpan, tomorrow } from "./ui-dates.js";

let made = 0;

function renumber() {
  const persons = $("person-list").querySelectorAll("fieldset.person");
  persons.forEach((fieldset, index) => {
    fieldset.querySelector(".person-legend").textContent = t("msg.person.legend", { number: index + 1 });
  });
}

/** Add a person's questions; returns its fieldset. */
export function addPerson() {
  made += 1;
  const prefix = `p${made}-`;
  const copy = $("person-template").content.firstElementChild.cloneNode(true);
  for (const node of copy.querySelectorAll("[id], [for], [aria-describedby]")) {
    for (const attr of ["id", "for", "aria-describedby"]) {
      const value = node.getAttribute(attr);
      if (value) node.setAttribute(attr, value.replace(/\bp0-/g, prefix));
    }
  }
  copy.querySelector(".remove-person").addEventListener("click", () => {
    const next = copy.nextElementSibling || copy.previousElementSibling;
    copy.remove();
    renumber();
    (next?.querySelector("input, select, textarea") ?? $("add-person")).focus();
  });
  $("person-list").append(copy);
  renumber();
  copy.querySelector("input, select, textarea").focus();
  return copy;
}

function labelOf(control) {
  const label = document.querySelector(`label[for="${control.id}"]`);
  return label ? label.textContent : control.name;
}

function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) node = node[key] ??= {};
  node[keys[keys.length - 1]] = value;
}

/** The persons as manifest objects, and every problem as a line naming the person and the
 * question. A person with nothing answered (status left at "unknown") is left out. Invalid
 * controls get aria-invalid; the first is returned to take the focus. */
export function readPersons() {
  const persons = [];
  const problems = [];
  let firstInvalid = null;
  const limit = tomorrow();
  const fieldsets = [...$("person-list").querySelectorAll("fieldset.person")];
  fieldsets.forEach((fieldset, index) => {
    const number = index + 1;
    const person = {};
    let answered = 0;
    const flag = (control, key, params = {}) => {
      control.setAttribute("aria-invalid", "true");
      problems.push(t("msg.error.field", { number, field: labelOf(control), problem: t(key, params) }));
      firstInvalid ??= control;
    };
    const controls = {};
    for (const control of fieldset.querySelectorAll("input[name], select[name], textarea[name]")) {
      control.removeAttribute("aria-invalid");
      controls[control.name] = control;
      let value = control.value.trim();
      if (value === "") continue;
      const kind = control.dataset.kind;
      if (kind === "integer" || kind === "date") value = asciiDigits(value).replace(/\s+/g, "");
      if (kind === "integer") {
        const min = Number(control.dataset.min);
        const max = Number(control.dataset.max);
        if (!/^[0-9]+$/.test(value)) { flag(control, "msg.problem.number"); continue; }
        const n = Number(value);
        if (n < min || n > max) { flag(control, "msg.problem.range", { min, max }); continue; }
        value = n;
      } else if (kind === "date") {
        const span = dateSpan(value, control.dataset.pattern);
        if (span.problem) { flag(control, "msg.problem.date"); continue; }
        if (span.start > limit) { flag(control, "msg.problem.future"); continue; }
      }
      if (!(control.name === "status" && value === "unknown")) answered += 1;
      setPath(person, control.name, value);
    }
    if (!person.status) person.status = "unknown";
    const ages = person.age_at_detention;
    if (ages) {
      // One box filled: the exact age in both.
      if (ages.min === undefined) ages.min = ages.max;
      if (ages.max === undefined) ages.max = ages.min;
      if (ages.min > ages.max) flag(controls["age_at_detention.min"], "msg.problem.ageOrder");
    }
    if (person.birth_year !== undefined) {
      const thisYear = Math.floor(limit / 10000);
      if (ages) flag(controls.birth_year, "msg.problem.birthAndAge");
      else if (person.birth_year > thisYear) flag(controls.birth_year, "msg.problem.future");
      else if (person.detention?.date) {
        const span = dateSpan(person.detention.date, controls["detention.date"].dataset.pattern);
        if (span.start && person.birth_year > Math.floor(span.start / 10000)) {
          flag(controls.birth_year, "msg.problem.birthAfter");
        }
      }
    }
    if (answered > 0) persons.push(person);
  });
  return { persons, problems, firstInvalid };
}
