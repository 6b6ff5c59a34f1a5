// The join screen: the access code (looked up as it is typed, with a preview
// of the circle), the display name, and entering the circle.

import { $, fillGroup } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { CODE_LEN, enc, formatCode, inviteLink, isCode, normalizeCode } from '../lib/format.js';
import { memberSecret, saveName, savedName } from '../lib/storage.js';
import { state } from '../state.js';
import { connect } from '../session/socket.js';
import { show } from '../ui/nav.js';
import { primeAudio } from '../ui/sound.js';
import { chosenLabel, showLabelChoice } from './labels.js';

// What became of a code or a circle, as the server names it (`error` codes,
// HTTP 410 `error`): the join screen, the organiser link and the final screen say it.
export const GONE = {
  code_changed: 'The organiser changed this circle’s code, so this one no longer lets anyone in. Ask them for the new code or invite link.',
  circle_closed: 'The organiser closed this circle: it no longer exists, and nobody can join it.',
};

let lookupSeq = 0;
let preview = null; // { code, group }
let lookupTimer = 0;

function codeError(text) {
  $('j-code-err').textContent = text;
  if (text) $('j-code').setAttribute('aria-invalid', 'true');
  else $('j-code').removeAttribute('aria-invalid');
}

// Looks the code up; returns the group or null (having said why, when `final`).
async function lookup(final) {
  const code = normalizeCode($('j-code').value);
  const seq = ++lookupSeq;
  if (preview && preview.code === code) return preview.group;
  preview = null;
  $('preview').hidden = true;
  showLabelChoice(null);
  if (!isCode(code)) {
    codeError(final || code.length > CODE_LEN
      ? (code ? 'Access codes have 10 letters and digits, like ABCDE-FGHJK.' : 'Enter the access code you were given.')
      : '');
    return null;
  }
  codeError('');
  try {
    const { status, data } = await api(`/groups/${enc(code)}`);
    if (seq !== lookupSeq) return null;
    if (status === 200 && data) {
      preview = { code, group: data };
      fillGroup('preview', data);
      $('preview').hidden = false;
      showLabelChoice(data);
      return data;
    }
    codeError(status === 404
      ? 'No circle has this code. Check it for typos — or the circle may have expired (circles last 3 days).'
      : (status === 410 && data && GONE[data.error]) || (data && data.message) || `Couldn't check this code (HTTP ${status}). Try again.`);
  } catch {
    if (seq === lookupSeq) codeError("Couldn't reach Circle to check this code. Check your connection and try again.");
  }
  return null;
}

// `check`: look the code up at once (not when the server just refused it).
export function openJoin(code, check = true) {
  $('j-name').value = $('j-name').value || savedName();
  if (code !== undefined && code !== null) $('j-code').value = code ? formatCode(normalizeCode(code)) : '';
  const c = normalizeCode($('j-code').value);
  history.replaceState(null, '', c ? inviteLink(c) : location.pathname);
  show('join');
  if (c && check) lookup(true);
}

// The server refused the session's code (`text` says why): back to the join screen.
export function codeRefused(text) {
  preview = null;
  $('preview').hidden = true;
  openJoin(state.session.code, false);
  codeError(text);
}

$('j-code').addEventListener('input', () => {
  clearTimeout(lookupTimer);
  lookupTimer = setTimeout(() => lookup(false), 250);
});
$('j-code').addEventListener('blur', () => {
  const c = normalizeCode($('j-code').value);
  if (c && !isCode(c)) lookup(true);
});

$('join-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  clearTimeout(lookupTimer);
  primeAudio();
  const button = $('join-submit');
  button.disabled = true;
  const group = await lookup(true);
  button.disabled = false;
  if (!group) { $('j-code').focus(); return; }
  const label = chosenLabel(group);
  if (label === false) return;
  const name = $('j-name').value.trim();
  saveName(name);
  const circle = typeof group.id === 'string' && group.id ? group.id : null;
  state.session = { code: preview.code, name, group, circle, label, member: memberSecret(circle || preview.code) };
  history.replaceState(null, '', inviteLink(state.session.code));
  connect();
});
