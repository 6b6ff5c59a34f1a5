// Creating a circle: the form with its rules, the API's field errors, and the
// "your circle is ready" screen with the code and the organiser link.

import { $, clearErrors, clearOnInput, copy, el } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { defaultPrompts } from '../lib/prompts.js';
import { bare, formatCode, inviteLink, normalizeCode, organizerLink } from '../lib/format.js';
import { show } from '../ui/nav.js';
import { openJoin } from './join.js';
import { labelError, labelFields, readLabels } from './labels.js';

const MAX_RULES = 20;
const rulesList = $('rules');
labelFields('c', $('c-form-err'));
let created = null;

function renumberRules() {
  [...rulesList.children].forEach((li, i) => {
    li.querySelector('input').setAttribute('aria-label', `Rule ${i + 1}`);
    li.querySelector('button').setAttribute('aria-label', `Remove rule ${i + 1}`);
  });
  $('add-rule').disabled = rulesList.children.length >= MAX_RULES;
}

function addRule(value = '') {
  if (rulesList.children.length >= MAX_RULES) return;
  const li = el('li');
  const row = el('div', 'row');
  const input = el('input');
  input.maxLength = 200;
  input.value = value;
  input.autocomplete = 'off';
  const remove = el('button', 'small', 'Remove');
  remove.type = 'button';
  remove.addEventListener('click', () => {
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    renumberRules();
    (next ? next.querySelector('input') : $('add-rule')).focus();
  });
  const err = el('p', 'err');
  row.append(input, remove);
  li.append(row, err);
  rulesList.append(li);
  renumberRules();
  input.focus();
}

clearOnInput($('create-form'), (i) => (i.id === 'c-name' ? $('c-name-err') : i.id === 'c-desc' ? $('c-desc-err') : i.id === 'c-prompts' ? $('c-prompts-err') : i.id === 'c-labels' ? $('c-labels-err') : i.closest('li')?.querySelector('.err')));

export function openCreate() {
  const form = $('create-form');
  form.reset();
  rulesList.replaceChildren();
  renumberRules();
  clearErrors(form);
  show('create');
  defaultPrompts().then((p) => { if (!$('c-prompts').value) $('c-prompts').value = p.join('\n'); });
}

function fieldError(field, message, sentRules) {
  if (labelError('c', field, bare(message))) return;
  let input = null;
  let out = null;
  let label = '';
  const m = /^rules\[(\d+)\]$/.exec(field || '');
  if (field === 'name') { input = $('c-name'); out = $('c-name-err'); label = 'Name'; }
  else if (field === 'description') { input = $('c-desc'); out = $('c-desc-err'); label = 'Description'; }
  else if (field === 'rules') { out = $('c-rules-err'); label = 'Rules'; }
  else if (/^prompts/.test(field || '')) {
    input = $('c-prompts'); out = $('c-prompts-err');
    const n = /\[(\d+)\]/.exec(field);
    label = n ? `Icebreaker ${+n[1] + 1}` : 'Icebreakers';
  }
  else if (m && sentRules[+m[1]]) {
    input = sentRules[+m[1]];
    const li = input.closest('li');
    out = li.querySelector('.err');
    label = `Rule ${[...rulesList.children].indexOf(li) + 1}`;
    input.setAttribute('aria-describedby', (out.id = `rule-err-${m[1]}`));
  }
  if (!out) { $('c-form-err').textContent = message || 'The circle could not be created.'; return; }
  out.textContent = `${label} ${bare(message)}`;
  if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
}

$('create-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  const ruleInputs = [...rulesList.querySelectorAll('input')].filter((i) => i.value.trim());
  const body = {
    name: $('c-name').value,
    description: $('c-desc').value,
    rules: ruleInputs.map((i) => i.value),
  };
  // The default set unchanged: send none, so the circle follows the defaults.
  const prompts = $('c-prompts').value.split('\n').map((l) => l.trim()).filter(Boolean);
  if (prompts.length && JSON.stringify(prompts) !== JSON.stringify(await defaultPrompts())) body.prompts = prompts;
  Object.assign(body, readLabels('c'));
  const button = $('create-submit');
  button.disabled = true;
  button.textContent = 'Creating…';
  try {
    const { status, data } = await api('/groups', { method: 'POST', body });
    if (status === 201 && data && data.access_code) showCreated(data);
    else if (status === 400 && data) fieldError(data.field, data.message, ruleInputs);
    else if (status === 429) $('c-form-err').textContent = 'Too many circles were created from your network in the last hour. Try again later.';
    else $('c-form-err').textContent = (data && data.message) || `The circle could not be created (HTTP ${status}). Try again.`;
  } catch {
    $('c-form-err').textContent = "Couldn't reach Circle. Check your connection and try again.";
  } finally {
    button.disabled = false;
    button.textContent = 'Create circle';
  }
});

function showCreated(group) {
  created = group;
  const code = normalizeCode(group.access_code);
  $('created-name').textContent = group.name;
  $('created-code').textContent = formatCode(code);
  $('created-link').value = inviteLink(code);
  const orgUrl = group.organizer_url || (group.organizer_key ? organizerLink(group.organizer_key) : '');
  $('org-box').hidden = !orgUrl;
  $('created-org-link').value = orgUrl;
  $('open-org').href = orgUrl || './';
  show('created');
}

$('add-rule').addEventListener('click', () => addRule());
$('copy-code').addEventListener('click', () => copy(formatCode(normalizeCode(created.access_code)), $('copy-code')));
$('copy-link').addEventListener('click', () => copy($('created-link').value, $('copy-link'), $('created-link')));
$('copy-org-link').addEventListener('click', () => copy($('created-org-link').value, $('copy-org-link'), $('created-org-link')));
$('created-join').addEventListener('click', () => openJoin(created.access_code));
