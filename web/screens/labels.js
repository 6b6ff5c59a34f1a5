// Labels (teams, "mentor"/"mentee", year groups): the join screen's choice of
// label (a radio group), the labels and mode on the create and edit forms (one
// a line or comma-separated), the partner's label in the chat header, and the
// organiser's share of chats across labels. The other screens call in here.

import { $, el, setText } from '../lib/dom.js';

const MODES = [
  ['across', 'Mix labels', 'pair people of different labels first'],
  ['within', 'Keep labels together', 'pair people of the same label first'],
];

// "a, b\nc" → ['a', 'b', 'c'].
export function parseLabels(text) {
  return text.split(/[\n,]/).map((l) => l.trim()).filter(Boolean);
}

// A fieldset of radios; `checked` is the value chosen, `describe` an error's id.
function radios(name, legendText, options, checked, describe) {
  const set = el('fieldset', 'field choices');
  set.append(el('legend', '', legendText));
  for (const [value, text, hint] of options) {
    const label = el('label', 'choice');
    const input = el('input');
    input.type = 'radio';
    input.name = name;
    input.value = value;
    input.checked = value === checked;
    input.defaultChecked = input.checked;
    const words = el('span', '', text);
    if (hint) words.append(el('span', 'hint', ` (${hint})`));
    label.append(input, words);
    set.append(label);
  }
  if (describe) set.setAttribute('aria-describedby', describe);
  return set;
}

// The labels and mode fields of a form (prefix `c` create, `e` edit), put
// before `before`; made once.
export function labelFields(prefix, before) {
  if ($(`${prefix}-labels`)) return;
  const box = el('div', 'field');
  const label = el('label', '', 'Labels ');
  label.htmlFor = `${prefix}-labels`;
  label.append(el('span', 'hint', '(optional, up to 8, one a line or comma-separated; e.g. teams, or mentor and mentee)'));
  const input = el('textarea');
  input.id = `${prefix}-labels`;
  input.rows = 3;
  input.setAttribute('aria-describedby', `${prefix}-labels-err`);
  const err = el('p', 'err');
  err.id = `${prefix}-labels-err`;
  box.append(label, input, err);
  const modes = radios(`${prefix}-label-mode`, 'With labels', MODES, 'across');
  modes.id = `${prefix}-label-modes`;
  before.before(box, modes);
}

// The body's `labels` and `label_mode` from a form; `prev` (when editing)
// leaves out what did not change.
export function readLabels(prefix, prev) {
  const labels = parseLabels($(`${prefix}-labels`).value);
  const picked = document.querySelector(`input[name="${prefix}-label-mode"]:checked`);
  const mode = picked ? picked.value : 'across';
  const out = {};
  if (!prev) {
    if (labels.length) Object.assign(out, { labels, label_mode: mode });
    return out;
  }
  if (JSON.stringify(labels) !== JSON.stringify(prev.labels || [])) out.labels = labels;
  if (labels.length && mode !== (prev.label_mode || 'across')) out.label_mode = mode;
  return out;
}

// A circle's labels and mode into a form.
export function fillLabels(prefix, circle) {
  if (!$(`${prefix}-labels`)) return;
  $(`${prefix}-labels`).value = (circle.labels || []).join('\n');
  for (const r of document.querySelectorAll(`input[name="${prefix}-label-mode"]`)) {
    r.checked = r.value === (circle.label_mode || 'across');
  }
}

// A 400 about `labels…` or `label_mode` on a form; true when it was shown.
export function labelError(prefix, field, message) {
  if (!/^label/.test(field || '')) return false;
  const input = $(`${prefix}-labels`);
  const n = /\[(\d+)\]/.exec(field);
  const what = field === 'label_mode' ? 'Label mode' : n ? `Label ${+n[1] + 1}` : 'Labels';
  $(`${prefix}-labels-err`).textContent = `${what} ${message}`;
  input.setAttribute('aria-invalid', 'true');
  input.focus();
  return true;
}

// The join screen's choice of label, after the preview of `group`.
export function showLabelChoice(group) {
  const old = $('j-labels');
  const labels = (group && group.labels) || [];
  const prev = old ? (document.querySelector('input[name="j-label"]:checked') || {}).value : undefined;
  if (old) old.remove();
  if (!labels.length) return;
  const set = radios('j-label', 'Your label', labels.map((l) => [l, l]), prev, 'j-label-err');
  set.id = 'j-labels';
  const intro = group.label_mode === 'within'
    ? 'You are paired with people of your own label first.'
    : 'You are paired with people of other labels first.';
  set.querySelector('legend').after(el('p', 'hint', intro));
  const err = el('p', 'err');
  err.id = 'j-label-err';
  set.append(err);
  $('preview').after(set);
}

// The label chosen on the join screen: null when the circle has none,
// false (having said so) when one is needed and none is chosen.
export function chosenLabel(group) {
  if (!group || !(group.labels || []).length) return null;
  const picked = document.querySelector('input[name="j-label"]:checked');
  if (picked) { $('j-label-err').textContent = ''; return picked.value; }
  $('j-label-err').textContent = 'Choose your label.';
  const first = document.querySelector('input[name="j-label"]');
  if (first) first.focus();
  return false;
}

// The partner's label under the chat header (hidden without one).
export function showPartnerLabel(label) {
  let line = $('chat-label');
  if (!line) {
    line = el('p', 'hint chat-label');
    line.id = 'chat-label';
    $('chat-timer').before(line);
  }
  line.textContent = typeof label === 'string' && label ? `Label: ${label}` : '';
  line.hidden = !line.textContent;
}

// The organiser's share of chats across labels (only for a circle with labels).
export function showLabelShare(view) {
  let row = $('st-labels-row');
  const share = view && view.label_share;
  if (!share) { if (row) row.hidden = true; return; }
  if (!row) {
    row = el('div');
    row.id = 'st-labels-row';
    const dd = el('dd');
    dd.id = 'st-labels';
    row.append(el('dt', '', 'Chats across labels'), dd);
    $('st-members').parentElement.after(row);
  }
  row.hidden = false;
  const total = share.across + share.within;
  setText($('st-labels'), total ? `${share.across} of ${total} (${Math.round((100 * share.across) / total)}%)` : '0');
}
