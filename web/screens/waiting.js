// The lobby: the waiting screen with its count (and why nobody here can be
// paired yet: `reason`, `retry_at`), timed rounds, and the break between two
// rounds.

import { $, fillGroup, setText } from '../lib/dom.js';
import { clock, inviteLink, timeText } from '../lib/format.js';
import { state, serverTime, activeRound } from '../state.js';
import { closeSocket, join, keepWaiting } from '../session/socket.js';
import { show } from '../ui/nav.js';
import { onTick, tick } from '../ui/ticker.js';
import { openJoin } from './join.js';
import { clearHistory } from './history.js';

let breakNumber = 0;   // the round whose end put us on the break
let sittingOut = false; // the next round began without a partner for us
let why = null;         // { reason, retryAt (our clock) } from the last `waiting`
let retryTimer = 0;

// `waiting` from the server (the session has checked it is not stale).
export function onWaiting(ev) {
  if (ev.group) state.session.group = ev.group;
  if (typeof ev.waiting === 'number') state.lastCount = ev.waiting;
  explain(ev);
  if (state.phase === 'break') {
    // In the lobby after the new round paired everyone it could: we sit this one out.
    if (state.round && state.round.number > breakNumber) sittingOut = true;
    breakText();
    return;
  }
  const fresh = state.phase !== 'waiting';
  state.phase = 'waiting';
  if (fresh || state.screen !== 'waiting') showWaiting(false, state.lastCount);
  else setText($('waiting-count'), countText(state.lastCount));
}

// Why we wait although others are here, and a keep-alive when that lifts
// (so the pairing happens then, not at the next 20 s keep-alive).
function explain(ev) {
  clearTimeout(retryTimer);
  const retryAt = ev.retry_at ? serverTime(ev.retry_at) : 0;
  why = ev.reason === 'just_met' || ev.reason === 'blocked' ? { reason: ev.reason, retryAt } : null;
  if (why && retryAt) {
    retryTimer = setTimeout(() => { if (state.phase === 'waiting') join(); }, Math.max(0, retryAt - Date.now()) + 500);
  }
}

function countText(count) {
  if (typeof count !== 'number') return "You'll be paired as soon as someone is free.";
  const others = Math.max(0, count - 1);
  const here = `${others} other ${others === 1 ? 'person is' : 'people are'} in the lobby`;
  if (why && others > 0 && why.reason === 'just_met') {
    const at = why.retryAt ? ` at ${timeText(new Date(why.retryAt).toISOString())}` : ' in a moment';
    return others === 1
      ? `${here}: the one you just chatted with. You'll be paired${at}, with them again or with someone new who arrives first.`
      : `${here}, but you just chatted with them or can't be paired with them. You'll be paired${at}, or as soon as someone new arrives.`;
  }
  if (why && others > 0) {
    return `${here}, but you can't be paired with ${others === 1 ? 'them' : 'any of them'}. You'll be paired as soon as someone new arrives.`;
  }
  return others === 0
    ? "You're the only one in the lobby right now. Invite someone with the link below."
    : `${others} other ${others === 1 ? 'person is' : 'people are'} in the lobby. You'll be paired as soon as someone new is free.`;
}

export function showWaiting(connecting, count) {
  const { session } = state;
  if (connecting) why = null;
  $('waiting-title').textContent = connecting ? 'Connecting…' : 'Waiting for someone…';
  setText($('waiting-count'), connecting ? '' : countText(count));
  if (session && session.group) {
    fillGroup('waiting', session.group);
    $('waiting-group').hidden = false;
  } else {
    $('waiting-group').hidden = true;
  }
  if (session) $('waiting-link').value = inviteLink(session.code);
  show('waiting');
}

// Leaves the circle for the join screen, its code filled in.
export function backToJoin() {
  clearHistory();
  closeSocket();
  openJoin(state.session ? state.session.code : '');
}

$('waiting-cancel').addEventListener('click', backToJoin);
$('break-exit').addEventListener('click', backToJoin);

export function onRound(ev) {
  const n = Number(ev.number) || 0;
  if (n <= 0) {
    state.round = null;
    if (state.room && state.phase === 'chat') state.room.endsAt = 0;
    if (state.phase === 'break') { state.phase = 'waiting'; showWaiting(false, state.lastCount); }
    tick();
    return;
  }
  const left = Number(ev.seconds_left);
  const endsAt = Number.isFinite(left) ? Date.now() + left * 1000 : serverTime(ev.ends_at);
  const at = Date.parse(ev.ends_at);
  if (Number.isFinite(left) && !Number.isNaN(at)) state.skewMs = at - endsAt; // seconds_left beats our clock
  state.round = { number: n, minutes: Number(ev.minutes) || 0, endsAt };
  if (state.phase === 'break') breakText();
  tick();
}

// Round `n` ended our room (the chat screen has ended it): the break until the next.
export function startBreak(n) {
  state.phase = 'break';
  breakNumber = n;
  sittingOut = false;
  state.lastCount = null;
  breakText();
  keepWaiting();
  show('break');
}

function breakText() {
  const { round, lastCount } = state;
  const next = round && round.number > breakNumber ? round.number : 0;
  const alone = typeof lastCount === 'number' && lastCount <= 1;
  let title = breakNumber > 0 ? `Round ${breakNumber} is over` : 'Timed rounds are starting';
  let text;
  if (!next) {
    text = 'The next round starts in a moment. Stay on this page: you will be paired with someone new.';
  } else if (sittingOut && alone) {
    title = `Sitting out round ${next}`;
    text = "There's an odd number of people, so everyone else is paired for this round. Stay on this page: you'll be paired as soon as someone is free, and first when the next round starts.";
  } else {
    text = `Round ${next} has started: finding your next partner…`;
    const others = typeof lastCount === 'number' ? lastCount - 1 : 0;
    if (others > 0) text += ` ${others} other ${others === 1 ? 'person is' : 'people are'} in the lobby.`;
  }
  setText($('break-title'), title);
  setText($('break-text'), text);
}

// The round's countdown on the waiting and break screens.
onTick(() => {
  const now = Date.now();
  const r = activeRound();
  const roundLine = r ? (r.endsAt > now ? `Round ${r.number} · ${clock(r.endsAt - now)} left` : `Round ${r.number} is ending…`) : '';
  $('waiting-round').hidden = !r;
  setText($('waiting-round-time'), r ? `${roundLine}.` : '');
  // The repeat guard's end, counted down.
  const retry = $('waiting-retry');
  const left = why && why.retryAt && state.phase === 'waiting' ? why.retryAt - now : 0;
  retry.hidden = left <= 0;
  setText(retry, left > 0 ? `Pairing again in ${clock(left)}` : '');
  const b = $('break-round');
  b.hidden = !r || r.number <= breakNumber;
  setText(b, b.hidden ? '' : roundLine);
});
