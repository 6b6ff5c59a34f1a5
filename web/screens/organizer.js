// The organiser's view (#organizer=KEY; the key goes only in a header): the
// circle's code and numbers, timed rounds, reports and removing members,
// editing, changing the code and closing the circle. Put in the page from its
// <template> only when an organiser link is opened.

import { $, clearErrors, clearOnInput, copy, el, setText } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { defaultPrompts } from '../lib/prompts.js';
import { bare, clock, dateTimeText, enc, formatCode, inviteLink, normalizeCode } from '../lib/format.js';
import { state } from '../state.js';
import { closeSocket } from '../session/socket.js';
import { confirmBox } from '../ui/dialogs.js';
import { onShow, show } from '../ui/nav.js';
import { onTick } from '../ui/ticker.js';
import { renderInsight } from './activity.js';
import { GONE } from './join.js';
import { fillLabels, labelError, labelFields, readLabels, showLabelShare } from './labels.js';
import { renderReports, resetReports, wireReports } from './orgreports.js';
import { renderRoster } from './roster.js';
import { screenTick, showScreen, updateScreen } from './screen.js';

const ORG_REFRESH_MS = 5_000;

const org = { key: '', code: '', circle: null, round: null, timer: 0, busy: false, dirty: false, removed: new Set(), reportsKey: '', skew: 0 };

// The organiser key in the page's fragment; null when there is none.
export function orgKeyFromHash() {
  const m = /^#organizer=([^&]*)/.exec(location.hash);
  if (!m) return null;
  try { return decodeURIComponent(m[1]); } catch { return ''; }
}

function orgError(text) {
  $('org-error').textContent = text;
  $('org-error').hidden = !text;
}

function orgNote(text, offerRotate = false) {
  $('org-note').textContent = text;
  $('org-rotate-now').hidden = !offerRotate;
}

function stopOrganizer() {
  clearInterval(org.timer);
  org.timer = 0;
}
onShow((name) => { if (name !== 'organizer') { stopOrganizer(); document.body.classList.remove('projecting'); } });

export function openOrganizer(key) {
  mountOrganizer();
  if (state.phase !== 'idle') closeSocket();
  Object.assign(org, { key, code: '', circle: null, round: null, dirty: false, reportsKey: '' });
  resetReports();
  $('org-body').hidden = true;
  $('org-title').textContent = 'Organiser view';
  orgError('');
  orgNote('');
  show('organizer');
  if (!key) { orgFail(401); return; }
  orgNote('Loading your circle…');
  orgRefresh(true);
  org.timer = setInterval(() => { if (!document.hidden) orgRefresh(); }, ORG_REFRESH_MS);
}

// A 401, 403, 404 or 410 ends the view; anything else is said and retried.
function orgFail(status, data) {
  const fatal = {
    401: 'This organiser link has no key. Open the whole link you were given when you created the circle.',
    403: "This organiser link doesn't match any circle: its key is wrong or incomplete. Check that you copied the whole link.",
    404: "This circle doesn't exist any more: it was closed, or it expired (circles last 3 days).",
    410: data && data.error === 'circle_closed' ? 'This circle was closed: it and its reports were deleted, and nobody can join it any more.' : (data && GONE[data.error]),
  }[status];
  if (fatal) {
    stopOrganizer();
    $('org-body').hidden = true;
    orgNote('');
    orgError(fatal);
    return true;
  }
  orgError((data && data.message) || `Circle couldn't answer (HTTP ${status}). Trying again shortly.`);
  return false;
}

export async function orgRefresh(first) {
  if (org.busy || state.screen !== 'organizer' || (!org.timer && !first)) return;
  org.busy = true;
  try {
    let r = await api(org.code ? `/groups/${enc(org.code)}/organizer` : '/organizer', { key: org.key });
    // The code may have been changed from another tab: find the circle by the key again.
    if ((r.status === 404 || (r.status === 410 && r.data && r.data.error === 'code_changed')) && org.code) r = await api('/organizer', { key: org.key });
    if (state.screen !== 'organizer') return;
    if (r.status === 200 && r.data && r.data.circle) {
      if (first) orgNote('');
      orgError('');
      renderOrg(r.data, r.date);
    } else {
      orgFail(r.status, r.data);
    }
  } catch {
    orgError("Couldn't reach Circle. Trying again every few seconds…");
  } finally {
    org.busy = false;
  }
}

// An organiser request on the current code; a 401/403/404 ends the view.
async function orgCall(method, path, body) {
  try {
    const r = await api(`/groups/${enc(org.code)}${path}`, { method, body, key: org.key });
    if ([401, 403, 404, 410].includes(r.status)) orgFail(r.status, r.data);
    return r;
  } catch {
    orgError("Couldn't reach Circle. Check your connection and try again.");
    return { status: 0, data: null };
  }
}

function showCircle(c) {
  org.circle = c;
  if (c.access_code) org.code = normalizeCode(c.access_code);
  setText($('org-title'), `Organise “${c.name}”`);
  setText($('org-name'), c.name);
  setText($('org-desc'), c.description || '');
  setText($('org-code'), formatCode(org.code));
  const link = inviteLink(org.code);
  if ($('org-link').value !== link) $('org-link').value = link;
  setText($('org-expires'), c.expires_at ? `The circle closes by itself on ${dateTimeText(c.expires_at)}.` : '');
  if (!org.dirty) {
    $('e-name').value = c.name || '';
    $('e-desc').value = c.description || '';
    $('e-rules').value = (c.rules || []).join('\n');
    $('e-prompts').value = (c.prompts || []).join('\n');
    fillLabels('e', c);
    // No icebreakers of its own: show the default set, which is in use.
    if (!(c.prompts || []).length) defaultPrompts().then((p) => { if (!org.dirty && !(org.circle.prompts || []).length) $('e-prompts').value = p.join('\n'); });
  }
}

function renderOrg(d, date) {
  const t = Date.parse(date || '');
  if (!Number.isNaN(t)) org.skew = t - Date.now();
  showCircle(d.circle);
  for (const k of ['waiting', 'chatting', 'chats', 'members']) setText($(`st-${k}`), String(d[k] ?? '–'));
  showLabelShare(d);
  setText($('org-updated'), `Updated at ${new Date().toLocaleTimeString()}; refreshes every 5 seconds while this tab is open.`);
  showRound(d.round);
  renderRoster(d.present, d.present_total, org.removed, removeMember);
  updateScreen(org.code, d, org.round);
  renderReports(d, { code: org.code, orgKey: org.key, removed: org.removed, removeMember });
  renderInsight(d, { key: org.key, code: org.code, call: orgCall });
  $('org-body').hidden = false;
}

function showRound(r) {
  org.round = r && r.active && r.number > 0
    ? { number: r.number, minutes: r.minutes, endsAt: Date.parse(r.ends_at) - org.skew }
    : null;
  $('rounds-form').hidden = !!org.round;
  $('rounds-stop').hidden = !org.round;
  orgTick();
}

function orgTick() {
  const r = org.round;
  const left = r ? r.endsAt - Date.now() : 0;
  setText($('org-round'), !r
    ? 'No timed rounds are running: people are paired as they arrive. Timed rounds pair everyone present at once, then again with someone new at the end of each round.'
    : left > 0
      ? `Round ${r.number} of ${r.minutes}-minute rounds: ${clock(left)} left.`
      : `Round ${r.number} is over; the next one is starting…`);
}
onTick(() => { if (state.screen === 'organizer') { orgTick(); screenTick(org.round); } });

async function removeMember(memberId, name) {
  const ok = await confirmBox(`Remove ${name} from the circle?`,
    `${name}'s chat ends now and ${name} can't join this circle again from that browser. Someone with the code could still join from a new browser or device: you can change the code next.`,
    `Remove ${name}`);
  if (!ok) return;
  const r = await orgCall('POST', '/remove', { member_id: memberId });
  if (r.status !== 200) {
    if (r.status) orgError((r.data && r.data.message) || `${name} couldn't be removed (HTTP ${r.status}).`);
    return;
  }
  org.removed.add(memberId);
  orgRefresh();
  orgNote(`${name} was removed${r.data && r.data.closed ? ' and their connection closed' : ''}, and can't join again from that browser. A new browser could still join with the code: change the code if you want to be sure ${name} stays out.`, true);
  $('org-rotate-now').focus();
}

async function rotateCode(confirmFirst) {
  const evict = $('rotate-evict').checked;
  if (confirmFirst && !await confirmBox('Change the access code?',
    `The current code and invite links stop letting anyone in at once. ${evict ? 'Everyone who joined with the current code is disconnected now' : 'People already in the circle stay'}, and this organiser link keeps working.`,
    'Change the code')) return;
  const r = await orgCall('POST', '/code', { evict });
  if (r.status !== 200 || !r.data || !r.data.access_code) {
    if (r.status && r.status !== 401 && r.status !== 403 && r.status !== 404) orgError((r.data && r.data.message) || `The code couldn't be changed (HTTP ${r.status}).`);
    return;
  }
  showCircle({ ...org.circle, access_code: r.data.access_code });
  orgNote(`The new code is ${formatCode(org.code)}. Share it, or the new invite link, with the people you want in; the old code no longer lets anyone in.${evict ? ` ${Number(r.data.closed) || 0} connection(s) that came in with the old code were closed.` : ''}`);
  $('org-code').scrollIntoView({ block: 'center' });
}

const lines = (text) => text.split('\n').map((l) => l.trim()).filter(Boolean);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Puts the organiser view in the page (once) and wires it.
function mountOrganizer() {
  if ($('screen-organizer')) return;
  $('main').insertBefore($('organizer-tpl').content.cloneNode(true), $('report-dialog'));
  wireReports();
  $('org-rotate-now').addEventListener('click', () => rotateCode(false));
  $('rotate-btn').addEventListener('click', () => rotateCode(true));

  $('rounds-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('round-min');
    const minutes = Number(input.value);
    if (!Number.isInteger(minutes) || minutes < 2 || minutes > 30) {
      $('round-min-err').textContent = 'Rounds last 2 to 30 whole minutes.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    $('round-min-err').textContent = '';
    input.removeAttribute('aria-invalid');
    const r = await orgCall('POST', '/rounds', { minutes });
    if (r.status === 200) {
      showRound(r.data && r.data.round);
      orgNote(`Timed rounds started: everyone present is being paired for round ${org.round ? org.round.number : 1}.`);
      $('rounds-stop').focus();
    } else if (r.status === 400) {
      $('round-min-err').textContent = bare(r.data && r.data.message);
      input.setAttribute('aria-invalid', 'true');
    } else if (r.status) {
      orgError((r.data && r.data.message) || `Rounds couldn't start (HTTP ${r.status}).`);
    }
  });

  $('rounds-stop').addEventListener('click', async () => {
    const r = await orgCall('DELETE', '/rounds');
    if (r.status === 200) {
      showRound(r.data && r.data.round);
      orgNote('Timed rounds stopped: people are paired as they arrive again.');
      $('round-min').focus();
    } else if (r.status) {
      orgError((r.data && r.data.message) || `Rounds couldn't be stopped (HTTP ${r.status}).`);
    }
  });

  labelFields('e', $('e-form-err'));
  clearOnInput($('edit-form'), (i) => $(`${i.id}-err`));
  $('edit-form').addEventListener('input', () => { org.dirty = true; });

  $('edit-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    clearErrors(form);
    const c = org.circle || {};
    const want = { name: $('e-name').value, description: $('e-desc').value, rules: lines($('e-rules').value), prompts: lines($('e-prompts').value) };
    const body = {};
    if (want.name !== c.name) body.name = want.name;
    if (want.description !== c.description) body.description = want.description;
    if (!same(want.rules, c.rules || [])) body.rules = want.rules;
    const own = c.prompts || [];
    if (!same(want.prompts, own) && !(own.length === 0 && same(want.prompts, await defaultPrompts()))) body.prompts = want.prompts;
    Object.assign(body, readLabels('e', c));
    if (!Object.keys(body).length) { org.dirty = false; orgNote('Nothing to save: no changes.'); return; }
    const button = $('edit-save');
    button.disabled = true;
    const r = await orgCall('PATCH', '', body);
    button.disabled = false;
    if (r.status === 200 && r.data) {
      org.dirty = false;
      showCircle(r.data.circle || r.data);
      orgNote('Saved. New chats use the changes.');
    } else if (r.status === 400 && r.data && labelError('e', r.data.field, bare(r.data.message))) {
      // Shown by the labels' own field.
    } else if (r.status === 400 && r.data) {
      const m = /^(name|description|rules|prompts)(?:\[(\d+)\])?$/.exec(r.data.field || '');
      const input = m ? $({ name: 'e-name', description: 'e-desc', rules: 'e-rules', prompts: 'e-prompts' }[m[1]]) : null;
      const label = m ? (m[2] !== undefined ? `${m[1] === 'rules' ? 'Rule' : 'Icebreaker'} ${+m[2] + 1}` : { name: 'Name', description: 'Description', rules: 'Rules', prompts: 'Icebreakers' }[m[1]]) : '';
      if (input) {
        $(`${input.id}-err`).textContent = `${label} ${bare(r.data.message)}`;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      } else {
        $('e-form-err').textContent = r.data.message || "The changes couldn't be saved.";
      }
    } else if (r.status && ![401, 403, 404].includes(r.status)) {
      $('e-form-err').textContent = `The changes couldn't be saved (HTTP ${r.status}). Try again.`;
    }
  });

  $('close-btn').addEventListener('click', async () => {
    const name = org.circle ? org.circle.name : 'this circle';
    if (!await confirmBox(`Close “${name}”?`,
      'Everyone in it is disconnected now, every chat ends, and the circle and its reports are deleted. This can’t be undone.',
      'Close the circle')) return;
    const r = await orgCall('DELETE', '');
    if (r.status === 204 || r.status === 200) {
      stopOrganizer();
      $('org-body').hidden = true;
      $('org-title').textContent = `“${name}” is closed`;
      orgNote('The circle is closed and deleted. Everyone in it was told.');
      $('org-title').focus();
    } else if (r.status && ![401, 403, 404].includes(r.status)) {
      orgError((r.data && r.data.message) || `The circle couldn't be closed (HTTP ${r.status}).`);
    }
  });

  $('org-copy-code').addEventListener('click', () => copy(formatCode(org.code), $('org-copy-code')));
  $('show-screen').addEventListener('click', () => { setText($('scr-name'), org.circle ? org.circle.name : ''); showScreen(true, org.code); orgRefresh(); });
  $('scr-back').addEventListener('click', () => showScreen(false));
  $('org-copy-link').addEventListener('click', () => copy($('org-link').value, $('org-copy-link'), $('org-link')));
}

