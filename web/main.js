// Circle's page: create a circle, join one, wait, chat; and the organiser's view.
// No dependencies, no build step. This entry point wires the session's server
// events to the screens and routes the page (`?code=`, `#organizer=`).

import { $, setStatus } from './lib/dom.js';
import { configReady } from './lib/api.js';
import { state } from './state.js';
import { abandon, closeSocket, on, retryJoin, sinceJoin } from './session/socket.js';
import { show } from './ui/nav.js';
import { alertFor } from './ui/alerts.js';
import { showAnnouncement } from './ui/banner.js';
import { stopFlash } from './ui/sound.js';
import { tick } from './ui/ticker.js';
import {
  endChat, endRoom, failPending, onMessage, partnerAway, partnerBack, showResumed, showResuming, startChat, stopChatTimers,
} from './screens/chat.js';
import { openCreate } from './screens/create.js';
import { GONE, codeRefused, openJoin } from './screens/join.js';
import { openOrganizer, orgKeyFromHash, orgRefresh } from './screens/organizer.js';
import { onSafetyDone, safetyRefused } from './screens/safety.js';
import { aftercareRefused, onAftercare } from './screens/recent.js';
import { circleEnded, closedFor, goneFor, showDropped } from './screens/trouble.js';
import { onRound, onWaiting, showWaiting, startBreak } from './screens/waiting.js';
import { onSitOut, showSittingOut, sittingOut } from './screens/sitout.js';
import { onRoundEnding } from './ui/countdown.js';

configReady.catch(() => setStatus("Couldn't load Circle's settings. Reload the page to try again."));

// ---------- the session's events ----------

on('connecting', () => showWaiting(true));
on('resuming', showResuming);
on('resumed', showResumed);
on('dropped', showDropped);
on('stop', stopChatTimers);

// A server event (the session has done its part).
on('frame', (ev) => {
  const { room, phase } = state;
  alertFor(ev);
  switch (ev.event) {
    case 'waiting':
      onWaiting(ev);
      break;
    case 'join_room':
      startChat(ev);
      break;
    case 'message':
      onMessage(ev);
      break;
    case 'partner_left':
      if (room && ev.room === room.id && phase === 'chat') {
        endChat(ev.reason === 'disconnected'
          ? `${room.partner.name} disconnected.`
          : `${room.partner.name} left the chat.`);
      }
      break;
    case 'partner_away':
      if (room && ev.room === room.id && (phase === 'chat' || phase === 'resuming')) partnerAway(ev);
      break;
    case 'partner_back':
      if (room && ev.room === room.id && room.away) partnerBack();
      break;
    case 'blocked':
    case 'reported':
      onSafetyDone(ev);
      break;
    case 'feedback':
    case 'keep_in_touch':
    case 'contact':
      onAftercare(ev);
      break;
    case 'round':
      onRound(ev);
      break;
    case 'round_over':
      if (room && ev.room === room.id && (phase === 'chat' || phase === 'resuming')) {
        endRoom();
        if (sittingOut()) showSittingOut();
        else startBreak(Number(ev.number) || 0);
      }
      break;
    case 'round_ending':
      onRoundEnding(ev);
      break;
    case 'sit_out':
      onSitOut(ev);
      break;
    case 'announcement':
      showAnnouncement(ev);
      break;
    case 'circle_closed':
      closedFor('This circle is closed', 'The organiser closed this circle: every chat in it has ended and it no longer exists. Thanks for taking part.');
      break;
    case 'circle_ended':
      circleEnded(ev);
      break;
    case 'error':
      onError(ev);
      break;
    default:
      break;
  }
});

function onError(ev) {
  const { phase, room } = state;
  const message = typeof ev.message === 'string' ? ev.message : 'Something went wrong.';
  const joining = phase === 'joining' || phase === 'waiting' || phase === 'connecting' || phase === 'break';
  if (ev.code === 'removed') {
    closedFor('You were removed from this circle', "The circle's organiser removed you, so you can't chat in it any more.");
    return;
  }
  if (safetyRefused(ev.code, message)) return;
  if (aftercareRefused(ev.code)) return;
  if (ev.code === 'code_changed' || ev.code === 'circle_closed') {
    if (phase === 'joining' || phase === 'connecting') { closeSocket(); codeRefused(GONE[ev.code]); } else goneFor(ev.code);
    return;
  }
  if ((ev.code === 'group_not_found' || ev.code === 'group_expired') && joining) {
    closeSocket();
    codeRefused(ev.code === 'group_expired'
      ? 'This circle has expired (circles last 3 days). Ask for a new code.'
      : "This code doesn't work any more: the organiser may have changed it or closed the circle. Ask them for the new code.");
    return;
  }
  if (ev.code === 'rate_limited' && phase === 'joining' && retryJoin()) {
    setStatus('Circle is busy; trying again…');
    return;
  }
  // A keep-alive join refused for a busy moment: the next one tries again.
  if (ev.code === 'rate_limited' && (phase === 'waiting' || phase === 'break')) return;
  // A keep-alive join that crossed our pairing ("already in a room"), or a
  // message that crossed the end of a room: nothing is wrong.
  if (ev.code === 'bad_request' && phase === 'chat' && sinceJoin() < 10_000) return;
  if (ev.code === 'not_in_room') {
    if (phase === 'chat') endChat('This chat has ended.');
    return;
  }
  if (ev.code === 'partner_away') {
    failPending();
    if (phase === 'chat' && room && !room.away) partnerAway({ grace_s: state.graceS });
    return;
  }
  if (ev.code === 'payload_too_large') {
    failPending();
    setStatus('That message is too long to send.');
    return;
  }
  if (ev.code === 'rate_limited' && phase === 'chat') {
    failPending();
    setStatus("You're sending too fast; wait a moment.");
    return;
  }
  if (phase === 'joining') {
    abandon(`Circle couldn't put you in the lobby: ${message}`);
    return;
  }
  setStatus(message);
}

// ---------- routes and the buttons every screen shares ----------

function go(where) {
  if (where === 'create') openCreate();
  else if (where === 'join') openJoin(state.session ? state.session.code : '');
  else show('home');
}

$('go-join').addEventListener('click', () => openJoin(''));
$('go-create').addEventListener('click', openCreate);
for (const b of document.querySelectorAll('[data-go]')) {
  b.addEventListener('click', () => {
    if (b.dataset.go !== 'join') history.replaceState(null, '', location.pathname);
    go(b.dataset.go);
  });
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden) return;
  stopFlash();
  if (state.screen === 'organizer') orgRefresh();
});

setInterval(tick, 1000);

function route() {
  const key = orgKeyFromHash();
  if (key === null) return false;
  openOrganizer(key);
  return true;
}

window.addEventListener('hashchange', () => {
  if (!route() && state.screen === 'organizer') show('home');
});

if (!route()) {
  const initial = new URLSearchParams(location.search).get('code');
  if (initial) openJoin(initial);
  else show('home');
}
