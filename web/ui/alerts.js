// Alerts while this tab is hidden: a match, a new message, a round change, the
// partner leaving or an announcement counts up in the title ("(2) New message —
// Circle"), plays a sound and shows a browser notification, each if chosen
// (the "Alerts" menu; the choices are kept in localStorage). All of it is reset
// when the tab is seen again. "Sound on match" (sound.js) keeps its own flash.

import { $, el } from '../lib/dom.js';
import { store } from '../lib/storage.js';
import { state } from '../state.js';
import { flashing, stopFlash, tone } from './sound.js';

const TITLE = 'Circle';
const CHOICES = [
  ['title', 'Count in the tab title', 'on'],
  ['sound', 'Play a sound', 'off'],
  ['notify', 'Show a notification', 'off'],
];
const on = (k) => (store.get(`circle.alert.${k}`) || CHOICES.find((c) => c[0] === k)[2]) === 'on';
const canNotify = () => 'Notification' in window;
let count = 0;
let shown = [];

// What an event is worth an alert as, if anything.
function what(ev) {
  const room = state.room;
  switch (ev.event) {
    case 'join_room': return 'New chat partner';
    case 'message':
      return room && ev.room === room.id && ev.from && ev.from.id === room.partner.id
        && typeof ev.message === 'string' && ev.message.trim() ? 'New message' : '';
    case 'round': return Number(ev.number) > 0 ? 'New round' : '';
    case 'partner_left': return room && ev.room === room.id ? 'Your partner left' : '';
    case 'announcement': return 'Announcement';
    default: return '';
  }
}

export function alertFor(ev) {
  if (!document.hidden) return;
  const text = what(ev);
  if (!text) return;
  count += 1;
  // "Sound on match" already flashes the title and plays its tone for a match.
  const matchFlash = ev.event === 'join_room' && store.get('circle.notify') === 'on';
  if (on('title') && !matchFlash) {
    stopFlash();
    document.title = `(${count}) ${text} — ${TITLE}`;
  }
  if (on('sound') && !matchFlash) tone(true);
  if (on('notify') && canNotify() && Notification.permission === 'granted') {
    try {
      const n = new Notification(TITLE, { body: text, tag: 'circle' });
      shown.push(n);
    } catch { /* some browsers allow notifications only from a service worker */ }
  }
}

function reset() {
  if (document.hidden) return;
  count = 0;
  if (!flashing()) document.title = TITLE;
  for (const n of shown) n.close();
  shown = [];
}
document.addEventListener('visibilitychange', reset);

// The "Alerts" menu, beside "Sound on match".
const menu = el('details', 'alerts');
menu.id = 'alerts';
const summary = el('summary', '', 'Alerts');
const box = el('fieldset', 'alerts-box');
box.append(el('legend', '', 'While this tab is hidden'));
for (const [k, label, fallback] of CHOICES) {
  const input = el('input');
  input.type = 'checkbox';
  input.id = `alert-${k}`;
  input.checked = (store.get(`circle.alert.${k}`) || fallback) === 'on';
  input.addEventListener('change', async () => {
    store.set(`circle.alert.${k}`, input.checked ? 'on' : 'off');
    if (k === 'sound' && input.checked) tone(true);
    if (k === 'notify' && input.checked && canNotify() && Notification.permission === 'default') {
      try { await Notification.requestPermission(); } catch { /* refused */ }
    }
    hint.textContent = k === 'notify' && input.checked && (!canNotify() || Notification.permission === 'denied')
      ? 'This browser blocks notifications from Circle: allow them in its site settings.' : '';
  });
  const row = el('label', 'toggle-row');
  row.append(input, ` ${label}`);
  box.append(row);
}
const hint = el('p', 'hint');
hint.setAttribute('role', 'status');
box.append(hint);
menu.append(summary, box);
$('notify-wrap').after(menu);
