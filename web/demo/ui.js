// DOM helpers of the demo pages. Everything that shows a value goes through
// text nodes (append, textContent, replaceChildren), never through markup
// parsing: the values come from the card, the card software on the local
// port and the portal, and none of them is trusted to be plain text.

import { interpolate, translator, localeFor } from "./i18n.js";

/**
 * Makes an element. attrs: "class", "dataset" (object), "on<event>"
 * (listener) or any attribute; children: strings (as text nodes) or nodes.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(string|Node|null|undefined|false)} children
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  e.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return e;
}

/**
 * Localizer renders keyed texts into elements and remembers them, so that
 * the language switch can re-render the whole page in place. Values in
 * vars may be strings, nodes, or functions of the localizer (for dates
 * and nested texts, which change with the language).
 */
export class Localizer {
  /** @param {string} lang */
  constructor(lang) {
    /** @type {Map<Element, {key?: string, vars?: object, fn?: Function}>} */
    this.bound = new Map();
    this.setLanguage(lang);
  }

  setLanguage(lang) {
    this.lang = lang;
    this.t = translator(lang);
    this.locale = localeFor(lang, globalThis.navigator?.languages ?? []);
  }

  /**
   * Renders fn(localizer) into node as text, and again after each language
   * switch: for values whose form depends on the language (dates).
   */
  bindValue(node, fn) {
    this.bound.set(node, { fn });
    node.textContent = String(fn(this) ?? "");
  }

  /** Stops re-rendering node on language switches. */
  unbind(node) {
    this.bound.delete(node);
  }

  /** Renders key into node; an empty key empties it. */
  say(node, key, vars) {
    if (!key) {
      this.bound.delete(node);
      node.replaceChildren();
      return;
    }
    this.bound.set(node, { key, vars });
    node.replaceChildren(...this.parts(key, vars));
  }

  /** The text of key with vars resolved, as strings and nodes. */
  parts(key, vars = {}) {
    const resolved = {};
    for (const [k, v] of Object.entries(vars)) resolved[k] = typeof v === "function" ? v(this) : v;
    return interpolate(this.t.template(key), resolved);
  }

  /** The text of key as a string (for attributes and titles). */
  text(key, vars) {
    return this.parts(key, vars)
      .map((p) => (typeof p === "string" ? p : p.textContent))
      .join("");
  }

  /** A date (ISO string or Date) in the local form of the language. */
  date(value, options = { year: "numeric", month: "2-digit", day: "2-digit" }) {
    const d = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(d.getTime())) return "";
    return new Intl.DateTimeFormat(this.locale, options).format(d);
  }

  dateTime(value) {
    return this.date(value, { dateStyle: "long", timeStyle: "short" });
  }

  /**
   * Translates the page's fixed texts: data-i18n="key" sets an element's
   * text, data-i18n-attr="attr:key;attr:key" its attributes.
   */
  translateStatic(root = document) {
    root.documentElement?.setAttribute("lang", this.lang);
    for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = this.text(node.dataset.i18n);
    for (const node of root.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of node.dataset.i18nAttr.split(";")) {
        const [attr, key] = pair.split(":");
        if (attr && key) node.setAttribute(attr.trim(), this.text(key.trim()));
      }
    }
  }

  /** Re-renders everything in the current language. */
  refresh(root = document) {
    this.translateStatic(root);
    for (const [node, { key, vars, fn }] of this.bound) {
      if (!node.isConnected) this.bound.delete(node);
      else if (fn) node.textContent = String(fn(this) ?? "");
      else node.replaceChildren(...this.parts(key, vars));
    }
  }
}

/**
 * Shows a keyed text in node, or hides node when key is empty; kind goes
 * to data-state.
 */
export function show(loc, node, key, vars, kind) {
  node.hidden = !key;
  loc.say(node, key, vars);
  if (kind) node.dataset.state = kind;
}

/**
 * Builds the language switch into select and calls onChange(lang) when the
 * visitor picks another language.
 */
export function languageSwitch(select, languages, current, onChange) {
  select.replaceChildren(...languages.map(([code, name]) => el("option", { value: code, lang: code }, name)));
  select.value = current;
  select.addEventListener("change", () => onChange(select.value));
}
