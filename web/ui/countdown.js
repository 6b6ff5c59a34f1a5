// The warning before a round ends (`round_ending`): a countdown above the
// chat, so the switch to a new partner comes as no surprise (the draft in the
// composer stays across it).

import { $, setText } from '../lib/dom.js';
import { clock } from '../lib/format.js';
import { state, serverTime } from '../state.js';
import { onTick, tick } from './ticker.js';

let warn = null; // { number, endsAt (our clock), room }

export function onRoundEnding(ev) {
  const { room } = state;
  if (!room || state.phase !== 'chat') return;
  // The room's own end (as the chat's timer counts it), else the event's.
  const left = Number(ev.seconds_left);
  const endsAt = room.endsAt || (Number.isFinite(left) ? Date.now() + left * 1000 : serverTime(ev.ends_at));
  warn = { number: Number(ev.number) || 0, endsAt, room: room.id };
  $('round-warn').hidden = false;
  setText($('round-warn-text'), '');
  tick();
  // Set once the line is shown, so it is announced once.
  setTimeout(() => setText($('round-warn-text'),
    `Round ${warn ? warn.number : ''} is about to end: you'll then be paired with someone new. Anything you're typing stays.`), 50);
}

onTick(() => {
  const { room } = state;
  if (warn && (!room || room.id !== warn.room || state.phase !== 'chat')) warn = null;
  $('round-warn').hidden = !warn;
  setText($('round-warn-time'), warn ? `${clock(warn.endsAt - Date.now())} left` : '');
});
