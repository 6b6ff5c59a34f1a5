// Previous chats of this visit to the circle: each ended chat's messages,
// kept readable but collapsed (<details>) above the current one on the chat
// screen, until the member leaves the circle.

import { $, el } from '../lib/dom.js';
import { timeText } from '../lib/format.js';

const box = $('history');
let all = null;   // the outer <details>, "Previous chats (n)"
let count = 0;

// Keeps a copy of `room`'s messages (the <li>s of `list`) before the log is reused.
export function archiveChat(room, list) {
  if (!room || !list.querySelector('.msg')) return;
  if (!all) {
    all = el('details', 'past-all');
    all.append(el('summary'));
    box.append(all);
  }
  const chat = el('details', 'past');
  const when = timeText(new Date(room.endedAt || Date.now()).toISOString());
  chat.append(el('summary', '', `${room.partner.name} · ended ${when}`));
  const log = el('ol', 'log-list past-log');
  for (const li of list.children) log.append(li.cloneNode(true));
  chat.append(log);
  all.firstChild.after(chat); // newest first
  count += 1;
  all.firstChild.textContent = `Previous chats (${count})`;
  box.hidden = false;
}

// Leaving the circle: the previous chats go.
export function clearHistory() {
  box.replaceChildren();
  all = null;
  count = 0;
  box.hidden = true;
}
