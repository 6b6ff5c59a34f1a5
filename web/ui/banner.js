// The organiser's announcement (`announcement` {text, at}) as a banner at the
// top of the page, until dismissed or replaced by the next one. A visually
// hidden live region, in the page from the start, reads it out without moving
// focus (a region that appears with its text is not reliably announced).

import { $, el, setText } from '../lib/dom.js';
import { timeText } from '../lib/format.js';

const live = el('p', 'visually-hidden');
live.setAttribute('role', 'status');
$('main').prepend(live);
let box = null;

function mount() {
  if (box) return box;
  box = el('section', 'announce');
  box.id = 'announce';
  box.setAttribute('aria-labelledby', 'announce-h');
  const h = el('h2', 'announce-h', 'From the organiser');
  h.id = 'announce-h';
  const text = el('p', 'announce-text pre');
  text.id = 'announce-text';
  const close = el('button', 'small', 'Dismiss');
  close.type = 'button';
  close.addEventListener('click', () => { box.hidden = true; });
  box.append(h, text, el('time', 'hint'), close);
  live.after(box);
  return box;
}

export function showAnnouncement(ev) {
  const text = typeof ev.text === 'string' ? ev.text : '';
  if (!text.trim()) return;
  const b = mount();
  setText($('announce-text'), text);
  const when = b.querySelector('time');
  when.dateTime = typeof ev.at === 'string' ? ev.at : '';
  setText(when, ev.at ? `Sent at ${timeText(ev.at)}` : '');
  b.hidden = false;
  live.textContent = `Announcement from the organiser: ${text}`;
}
