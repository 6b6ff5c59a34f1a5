// Recent chats: the rooms of the last 10 minutes (at most five, the current
// one included), on the chat, chat-ended, waiting and break screens. Each has
// Report, Block, "Good chat?" (good / meh, counted without names) and "Keep in
// touch" (a contact line shared only if both ask, held at most 10 minutes).

import { $, el, setStatus } from '../lib/dom.js';
import { state } from '../state.js';
import { ANSWER_TIMEOUT_MS, isOpen, send } from '../session/socket.js';
import { openModal } from '../ui/dialogs.js';
import { onTick } from '../ui/ticker.js';
import { blockPartner, openReport } from './safety.js';

const WINDOW_MS = 600_000; // the server keeps a room for 10 minutes after it ended
const MAX_ROOMS = 5;       // ... and five rooms, the current one included
const REFUSALS = ['rate_limited', 'not_in_room', 'bad_request', 'internal'];

const rooms = [];       // newest first: the room objects chat.js keeps in state.room
let session = null;     // the session those rooms belong to
let pending = null;     // { kind: 'feedback' | 'keep_in_touch', room, timer }
let kitRoom = null;     // the room the keep-in-touch dialog is for
let drawn = '';         // what the list shows, to redraw only on a change

const panel = el('details', 'recent');
panel.id = 'recent';
const list = el('ul', 'recent-list');
panel.append(el('summary', '', 'Recent chats'),
  el('p', 'hint', 'Anyone you chatted with in the last 10 minutes: report, block, rate the chat or keep in touch.'),
  list);

const isCurrent = (r) => state.room === r && !r.endedAt && (state.phase === 'chat' || state.phase === 'resuming');
const shown = (r, now) => isCurrent(r) || (r.endedAt > 0 && now - r.endedAt < WINDOW_MS);

function track() {
  if (state.session !== session) { session = state.session; rooms.length = 0; }
  const r = state.room;
  if (!r || rooms.includes(r)) return;
  for (const old of rooms) if (!old.endedAt) old.endedAt = Date.now();
  rooms.unshift(r);
  panel.open = false; // a new chat: the list folds away until asked for
  rooms.length = Math.min(rooms.length, MAX_ROOMS);
}

// Where the list goes on the screen shown (none: hidden).
function place() {
  const { screen, phase } = state;
  if (screen === 'chat' && phase === 'ended') return [$('ended'), $('ended').querySelector('.actions')];
  if (screen === 'chat') return [$('screen-chat'), $('log')];
  if (screen === 'waiting' || screen === 'break') {
    const host = $(`screen-${screen}`);
    return [host, host.querySelector(':scope > .actions')];
  }
  return [null, null];
}

function button(text, name, onClick, cls = 'small') {
  const b = el('button', cls, text);
  b.type = 'button';
  if (name) b.append(el('span', 'visually-hidden', ` ${name}`));
  b.disabled = !!pending || !isOpen();
  b.addEventListener('click', onClick);
  return b;
}

function ago(r, now) {
  if (isCurrent(r)) return 'now';
  const min = Math.floor((now - r.endedAt) / 60_000);
  return min < 1 ? 'just now' : `${min} min ago`;
}

// The chat and break screens have their own Report and Block for the latest
// room (safety.js): the list doesn't offer them a second time.
const ownButtons = (r) => r === state.room && (state.screen === 'chat' || state.screen === 'break');

function entry(r, now) {
  const name = r.partner.name;
  const li = el('li', 'recent-item');
  li.dataset.room = r.id;
  const who = el('p', 'recent-who');
  who.append(el('bdi', '', name), ` · ${ago(r, now)}`);
  li.append(who);
  const rate = el('div', 'recent-rate');
  rate.setAttribute('role', 'group');
  if (r.rated) {
    rate.append(el('span', '', 'Thanks for rating this chat.'));
  } else {
    const q = el('span', '', 'Good chat?');
    q.id = `rq-${r.id}`;
    rate.setAttribute('aria-labelledby', q.id);
    rate.append(q, button('Good', '', () => rateChat(r, 'good')), button('Meh', '', () => rateChat(r, 'meh')));
  }
  li.append(rate);
  const acts = el('div', 'recent-actions');
  if (r.safety) acts.append(el('span', '', r.safety === 'blocked' ? 'Blocked.' : 'Reported.'));
  else if (!ownButtons(r)) acts.append(button('Report', name, () => openReport(r)), button('Block', name, () => blockPartner(r)));
  if (!r.kit) acts.append(button('Keep in touch', `with ${name}`, () => openKit(r)));
  li.append(acts);
  const kit = r.contact !== undefined
    ? `${name} wants to keep in touch too. Their contact: ${r.contact || '(none given)'}`
    : r.kit === 'sent' ? `Asked to keep in touch. If ${name} asks too within 10 minutes, you'll both see each other's contact here.` : '';
  if (kit) {
    const p = el('p', r.contact !== undefined ? 'recent-contact' : 'hint');
    p.append(kit);
    li.append(p);
  }
  if (r.recentErr) li.append(el('p', 'err', r.recentErr));
  return li;
}

function render() {
  track();
  const now = Date.now();
  const visible = rooms.filter((r) => shown(r, now));
  const [host, before] = place();
  if (!host || !visible.length) { panel.remove(); drawn = ''; return; }
  if (panel.parentElement !== host || (before && panel.nextSibling !== before)) host.insertBefore(panel, before);
  const sig = JSON.stringify([!!pending, isOpen(), state.screen, visible.map((r) => [r.id, ago(r, now), r.rated, r.kit, r.contact, r.safety, r.recentErr])]);
  // Right after a chat ends, and in a timed room's last minute, the question is asked: the list opens.
  const first = visible[0];
  const lastMinute = isCurrent(first) && first.endsAt && first.endsAt - now < 60_000;
  const moment = state.phase === 'ended' ? 'ended' : lastMinute ? 'last minute' : '';
  if (moment && !first.rated && first.asked !== moment) {
    first.asked = moment; // once each: it may be folded again
    panel.open = true;
  }
  if (sig === drawn) return;
  drawn = sig;
  const focused = document.activeElement && list.contains(document.activeElement)
    ? [document.activeElement.closest('li').dataset.room, document.activeElement.textContent] : null;
  list.replaceChildren(...visible.map((r) => entry(r, now)));
  if (focused) {
    const again = [...list.querySelectorAll(`li[data-room="${CSS.escape(focused[0])}"] button`)].find((b) => b.textContent === focused[1]);
    if (again) again.focus();
  }
}
onTick(render);

function ask(kind, r, frame) {
  if (pending || !send(frame)) { r.recentErr = "You're not connected to Circle right now."; render(); return; }
  r.recentErr = '';
  pending = { kind, room: r, timer: setTimeout(() => refused('timeout'), ANSWER_TIMEOUT_MS) };
  render();
}

function rateChat(r, rating) {
  r.rating = rating;
  ask('feedback', r, { action: 'feedback', room: r.id, rating });
}

function openKit(r) {
  kitRoom = r;
  const name = r.partner.name;
  $('kit-title').textContent = `Keep in touch with ${name}?`;
  $('kit-desc').textContent = `${name} sees your contact only if they also ask to keep in touch with you, within 10 minutes. Circle holds it for at most 10 minutes, then it is gone: it is never stored for longer, never logged and never shown to the organiser. You may leave it empty.`;
  $('kit-contact').value = '';
  $('kit-err').textContent = '';
  openModal($('kit-dialog'), $('kit-contact'));
}

$('kit-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const r = kitRoom;
  const contact = $('kit-contact').value.trim();
  if (contact.length > 200) { $('kit-err').textContent = 'Keep it to 200 characters.'; return; }
  $('kit-dialog').close();
  if (r) ask('keep_in_touch', r, { action: 'keep_in_touch', room: r.id, contact });
});
$('kit-cancel').addEventListener('click', () => $('kit-dialog').close());

function done() {
  const p = pending;
  if (p) clearTimeout(p.timer);
  pending = null;
  return p;
}

// `feedback`, `keep_in_touch` and `contact` from the server.
export function onAftercare(ev) {
  const r = rooms.find((x) => x.id === ev.room);
  if (ev.event === 'contact') {
    if (!r) { setStatus(`Someone you chatted with wants to keep in touch: ${ev.contact || '(no contact given)'}`); return; }
    r.kit = 'done';
    r.contact = typeof ev.contact === 'string' ? ev.contact : '';
    setStatus(`${r.partner.name} wants to keep in touch too. See Recent chats for their contact.`);
  } else if (pending && pending.room === r) {
    done();
    if (ev.event === 'feedback') r.rated = r.rating || true;
    else if (r.kit !== 'done') r.kit = 'sent';
  }
  drawn = '';
  render();
}

function refused(code) {
  const p = done();
  if (!p) return;
  p.room.recentErr = code === 'not_in_room' ? 'Too late: this works for 10 minutes after a chat ends.'
    : code === 'rate_limited' ? 'Wait a second, then try again.'
      : code === 'timeout' ? "Circle didn't answer. Try again." : "That didn't work. Try again.";
  drawn = '';
  render();
}

// A server error that answers a pending feedback or keep in touch; false if it is not one.
export function aftercareRefused(code) {
  if (!pending || !REFUSALS.includes(code)) return false;
  refused(code);
  return true;
}
