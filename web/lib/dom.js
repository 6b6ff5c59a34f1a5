// Small DOM helpers shared by every screen. Text goes on the page with
// textContent only, never as HTML.

import { dateTimeText } from './format.js';

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Changes text only when it differs (live regions announce every change).
export function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

export function fillGroup(prefix, group) {
  $(`${prefix}-name`).textContent = group.name;
  $(`${prefix}-desc`).textContent = group.description;
  const list = $(`${prefix}-rules`);
  list.replaceChildren(...(group.rules || []).map((r) => el('li', '', r)));
  $(`${prefix}-rules-wrap`).hidden = !(group.rules && group.rules.length);
  // When the circle ends (`expires_at`), where the screen has a line for it.
  const ends = $(`${prefix}-ends`);
  const when = group.expires_at ? dateTimeText(group.expires_at) : '';
  if (ends) { ends.textContent = when ? `This circle ends ${when}.` : ''; ends.hidden = !when; }
}

// The page-wide status line (empty hides it).
export function setStatus(text) {
  const s = $('status');
  s.textContent = text;
  s.hidden = !text;
}

export async function copy(text, button, fallbackInput) {
  const label = button.dataset.label || (button.dataset.label = button.textContent);
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied!';
  } catch {
    if (fallbackInput) { fallbackInput.focus(); fallbackInput.select(); }
    button.textContent = 'Press Ctrl+C to copy';
  }
  clearTimeout(button._t);
  button._t = setTimeout(() => { button.textContent = label; }, 2000);
}

// A field's error goes as soon as it is edited.
export function clearOnInput(form, errorOf) {
  form.addEventListener('input', (e) => {
    const input = e.target;
    if (!input.hasAttribute('aria-invalid')) return;
    input.removeAttribute('aria-invalid');
    const out = errorOf(input);
    if (out) out.textContent = '';
  });
}

export function clearErrors(form) {
  for (const e of form.querySelectorAll('.err')) e.textContent = '';
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}
