// "Show on a screen": the organiser view turned into something for a
// projector: the code large, the invite link's QR code (drawn as SVG by the
// server, GET /groups/{code}/qr), live counts and the round countdown. It
// lives inside the organiser view, which keeps refreshing it.

import { $, setText } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { clock, enc, formatCode } from '../lib/format.js';

let qrFor = '';

export function screenShown() {
  return !$('org-screen').hidden;
}

// Shows (or hides) the screen view in place of the organiser's controls.
export function showScreen(on, code) {
  $('org-screen').hidden = !on;
  // The rest of the organiser view is hidden by CSS (body.projecting).
  document.body.classList.toggle('projecting', on);
  if (on) {
    loadQr(code);
    $('scr-back').focus();
  } else {
    $('show-screen').focus();
  }
}

async function loadQr(code) {
  if (!code || qrFor === code) return;
  qrFor = code;
  const box = $('scr-qr');
  box.replaceChildren();
  try {
    const r = await api(`/groups/${enc(code)}/qr`);
    if (r.status !== 200 || !r.data || typeof r.data.svg !== 'string') throw new Error(String(r.status));
    // Our own server's SVG, parsed as an image document (no scripts run).
    const doc = new DOMParser().parseFromString(r.data.svg, 'image/svg+xml');
    const svg = document.importNode(doc.documentElement, true);
    if (svg.nodeName !== 'svg') throw new Error('not an SVG');
    svg.removeAttribute('width');
    svg.removeAttribute('height');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `QR code of the invite link ${r.data.link || ''}`);
    box.replaceChildren(svg);
    setText($('scr-link'), r.data.link || '');
  } catch {
    qrFor = '';
    setText($('scr-link'), 'The QR code could not be made; share the code instead.');
  }
}

// Every organiser refresh: the code, the counts and the round.
export function updateScreen(code, d, round) {
  if (!screenShown()) return;
  setText($('scr-code'), formatCode(code));
  setText($('scr-present'), String(d.present_total ?? '–'));
  setText($('scr-waiting'), String(d.waiting ?? '–'));
  setText($('scr-chatting'), String(d.chatting ?? '–'));
  loadQr(code);
  screenTick(round);
}

// Once a second: the round countdown.
export function screenTick(round) {
  if (!screenShown()) return;
  const left = round ? round.endsAt - Date.now() : 0;
  $('scr-round').hidden = !round;
  if (round) setText($('scr-round'), left > 0 ? `Round ${round.number}: ${clock(left)} left` : `Round ${round.number} is over; the next one is starting…`);
}
