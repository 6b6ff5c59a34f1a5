// Sitting out timed rounds: the "Sit out rounds" toggle (`sit_out`), the
// screen while sitting out, and the round under way on the "chat ended"
// screen. Shown while rounds run (or while sitting out).

import { $, setText } from '../lib/dom.js';
import { clock } from '../lib/format.js';
import { state, activeRound } from '../state.js';
import { on, requeued, send } from '../session/socket.js';
import { onTick, tick } from '../ui/ticker.js';
import { showWaiting } from './waiting.js';

const KEEPALIVE_MS = 240_000; // API Gateway drops sockets idle for 10 min

const box = $('sitout');
const wrap = $('sitout-wrap');
let sitting = false;
let lastSent = 0;

export const sittingOut = () => sitting;

// A new connection starts not sitting out (a resumed one keeps it).
on('connecting', () => { sitting = false; box.checked = false; });

box.addEventListener('change', () => {
  if (!send({ action: 'sit_out', on: box.checked })) box.checked = sitting;
  lastSent = Date.now();
});

// Out of the lobby and of rounds: the waiting screen says so.
export function showSittingOut() {
  state.phase = 'ended';
  showWaiting(false);
  setText($('waiting-title'), "You're sitting out");
  setText($('waiting-count'), "You won't be paired, in rounds or otherwise, until you turn off \u201cSit out rounds\u201d.");
  $('waiting-retry').hidden = true;
}

// Back in: the server puts us in the lobby (`waiting` or `join_room` follows).
export function comeBack() {
  if (!send({ action: 'sit_out', on: false })) return;
  box.checked = false;
}

// `sit_out` from the server: the connection's flag as it now stands.
export function onSitOut(ev) {
  const was = sitting;
  sitting = ev.on === true;
  box.checked = sitting;
  const between = ['joining', 'waiting', 'break'].includes(state.phase)
    || (state.phase === 'ended' && state.screen === 'waiting');
  if (sitting && between) showSittingOut();
  else if (!sitting && was && state.phase === 'ended') {
    requeued();
    showWaiting(false);
    setText($('waiting-title'), 'Looking for someone new…');
  }
  tick();
}

onTick(() => {
  // Sitting out between chats sends nothing else: the answer to this keeps the socket open.
  if (sitting && state.phase === 'ended' && Date.now() - lastSent > KEEPALIVE_MS) {
    send({ action: 'sit_out', on: true });
    lastSent = Date.now();
  }
  const inCircle = !!state.session && ['joining', 'waiting', 'break', 'chat', 'ended', 'resuming'].includes(state.phase);
  const r = activeRound();
  wrap.hidden = !(inCircle && (r || sitting));
  // The "chat ended" screen: the round under way, or that we sit out.
  const line = $('ended-round');
  let text = '';
  if (state.phase === 'ended' && state.screen === 'chat') {
    if (sitting) text = "You're sitting out rounds.";
    else if (r && r.endsAt > Date.now()) text = `Round ${r.number} is running · ${clock(r.endsAt - Date.now())} left. You'll be paired with someone when the next round starts.`;
  }
  line.hidden = !text;
  setText(line, text);
});
