// The screens a session ends on: "Connection lost" (with Rejoin) and "This
// circle is closed" (closed by its organiser, or we were removed).

import { $ } from '../lib/dom.js';
import { state } from '../state.js';
import { closeSocket, connect } from '../session/socket.js';
import { closeDialogs } from '../ui/dialogs.js';
import { show } from '../ui/nav.js';
import { openJoin } from './join.js';

// The session is over (`was`: the phase it ended in): say why, offer Rejoin.
export function showDropped(reason, was, partner) {
  closeDialogs();
  let text = reason || '';
  if (!text) {
    if (was === 'connecting') text = "Couldn't connect to Circle. Check your internet connection, then try again.";
    else if (was === 'chat' || was === 'resuming') text = `The connection dropped, so your chat with ${partner} has ended.`;
    else if (was === 'waiting' || was === 'joining' || was === 'break') text = 'The connection to Circle dropped while you were waiting.';
    else text = 'The connection to Circle dropped.';
  }
  $('trouble-text').textContent = `${text} Rejoin to go back to the lobby of this circle.`;
  show('trouble');
}

// The circle is gone for us: stop.
export function closedFor(title, text) {
  closeSocket('closed');
  closeDialogs();
  $('closed-title').textContent = title;
  $('closed-text').textContent = text;
  show('closed');
}

$('rejoin-btn').addEventListener('click', () => {
  if (state.session) connect();
  else openJoin('');
});
