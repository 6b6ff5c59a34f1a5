// The screens a session ends on: "Connection lost" (with Rejoin) and "This
// circle is closed" (closed by its organiser, or we were removed).

import { $ } from '../lib/dom.js';
import { state } from '../state.js';
import { closeSocket, connect } from '../session/socket.js';
import { closeDialogs } from '../ui/dialogs.js';
import { show } from '../ui/nav.js';
import { GONE, openJoin } from './join.js';

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

// `circle_ended` {reason}: the circle is over for everyone; a final screen.
export function circleEnded(ev) {
  if (ev && ev.reason === 'expired') {
    closedFor('This circle has ended', 'The circle reached the end of its time (circles last 3 days), so every chat in it has ended. Thanks for taking part.');
  } else {
    closedFor('This circle is closed', 'The organiser closed this circle: every chat in it has ended and it no longer exists. Thanks for taking part.');
  }
}

// `error` `code_changed` or `circle_closed` while inside: the organiser
// changed the code and closed the connections that came in with the old one,
// or closed the circle.
export function goneFor(code) {
  if (code === 'code_changed') closedFor('The code was changed', `${GONE.code_changed} You can join again with the new one.`);
  else closedFor('This circle is closed', GONE.circle_closed);
}
