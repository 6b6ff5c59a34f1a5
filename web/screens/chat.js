// The chat screen: the room's messages, typing, the partner away and back,
// the room's end, and the Next / Leave / Find someone new buttons.

import { $, el, setText, setStatus } from '../lib/dom.js';
import { clock, timeText } from '../lib/format.js';
import { state, serverTime, activeRound } from '../state.js';
import {
  ANSWER_TIMEOUT_MS, connect, hangUp, isOpen, join, requeued, send,
  startRoomKeepalive, stopRoomKeepalive,
} from '../session/socket.js';
import { show } from '../ui/nav.js';
import { alertMatch } from '../ui/sound.js';
import { onTick, tick } from '../ui/ticker.js';
import { backToJoin, showWaiting } from './waiting.js';
import { archiveChat } from './history.js';
import { comeBack, sittingOut } from './sitout.js';
import { showPartnerLabel } from './labels.js';

const TYPING_SEND_MS = 2_500;       // at most one "typing" per this
const TYPING_SHOW_MS = 4_000;       // how long a partner's "typing" shows

const log = $('log');
const list = $('log-list');
const msg = $('msg');
let lastTypingSent = 0;
let typingTimer = 0;
let awayTimer = 0;
let shownRoom = null; // { room, session } whose messages the log shows

// The session stopped its timers: the chat's stop too.
export function stopChatTimers() {
  clearTimeout(typingTimer);
  clearTimeout(awayTimer);
}

export function startChat(ev) {
  state.phase = 'chat';
  const room = {
    id: ev.room,
    user: ev.user,
    partner: ev.match && typeof ev.match.name === 'string' ? ev.match : { name: 'Someone', id: '' },
    resume: typeof ev.resume === 'string' && ev.resume ? ev.resume : null,
    prompt: typeof ev.prompt === 'string' ? ev.prompt.trim() : '',
    endsAt: ev.ends_at ? serverTime(ev.ends_at) : 0,
    msgs: [],
    endedAt: 0,
    away: false,
    safety: null,
  };
  // The previous chat of this visit to the circle stays readable, collapsed.
  if (shownRoom && shownRoom.session === state.session) archiveChat(shownRoom.room, list);
  shownRoom = { room, session: state.session };
  state.room = room;
  const { session } = state;
  // The name isolated (<bdi>): a right-to-left name can't reorder the title.
  $('chat-title').replaceChildren('Chatting with ', el('bdi', '', room.partner.name));
  showPartnerLabel(room.partner.label);
  list.replaceChildren();
  note(`You're now chatting with ${room.partner.name} from ${session.group ? session.group.name : 'this circle'}. Say hi!`);
  $('prompt-text').textContent = room.prompt;
  $('prompt').hidden = !room.prompt;
  banner('');
  hideTyping();
  $('ended').hidden = true;
  $('composer').hidden = false;
  $('chat-live-actions').hidden = false;
  autosize(); // a half-typed draft stays across a partner switch
  lastTypingSent = 0;
  startRoomKeepalive();
  const wasChat = state.screen === 'chat';
  show('chat');
  if (wasChat) msg.focus();
  alertMatch(room.partner.name);
}

// The room is over for us: what ending it on the chat screen and a round's end share.
export function endRoom() {
  stopRoomKeepalive();
  clearTimeout(awayTimer);
  hideTyping();
  banner('');
  failPending(true);
  const { room } = state;
  if (room) { room.endedAt = Date.now(); room.away = false; }
}

export function endChat(text) {
  state.phase = 'ended';
  endRoom();
  note(text);
  $('chat-title').textContent = `Chat with ${state.room.partner.name} ended`;
  $('ended-text').textContent = text;
  $('ended').hidden = false;
  $('prompt').hidden = true;
  $('composer').hidden = true;
  $('chat-live-actions').hidden = true;
  $('again-btn').focus();
  tick();
}

function banner(text) {
  setText($('conn-banner'), text);
}

export function partnerAway(ev) {
  const { room } = state;
  const g = Number(ev.grace_s);
  if (Number.isFinite(g) && g > 0) state.graceS = g;
  room.away = true;
  hideTyping();
  if (state.phase === 'chat') banner(`${room.partner.name} is reconnecting…`);
  updateComposer();
  // The server ends the room within the grace plus 5 s; should that word never come, end it here.
  clearTimeout(awayTimer);
  awayTimer = setTimeout(() => {
    if (state.phase === 'chat' && state.room && state.room.away) endChat(`${state.room.partner.name} disconnected.`);
  }, (state.graceS + 15) * 1000);
}

export function partnerBack() {
  const { room } = state;
  room.away = false;
  clearTimeout(awayTimer);
  if (state.phase === 'chat') {
    banner('');
    note(`${room.partner.name} is back.`);
  }
  updateComposer();
}

// Our own socket dropped: the session is trying to take the seat back.
export function showResuming() {
  hideTyping();
  failPending(true);
  banner('Reconnecting…');
  updateComposer();
  tick();
}

export function showResumed() {
  const { room } = state;
  banner(room.away ? `${room.partner.name} is reconnecting…` : '');
  note('Reconnected.');
  updateComposer();
  tick();
}

function nearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
}

function scrollDown(force) {
  if (force || nearBottom()) log.scrollTop = log.scrollHeight;
}

export function note(text) {
  const stick = nearBottom();
  list.append(el('li', 'note', text));
  scrollDown(stick);
}

function bubble(text, mine, sentAt, id) {
  const stick = nearBottom();
  const li = el('li', `msg ${mine ? 'mine' : 'theirs'}`);
  if (id) li.dataset.id = id;
  const who = el('span', 'visually-hidden', mine ? 'You: ' : `${state.room.partner.name}: `);
  const body = el('p', 'text', text);
  const time = el('time', '', sentAt ? timeText(sentAt) : 'sending…');
  if (sentAt) time.dateTime = sentAt;
  li.append(who, body, time);
  list.append(li);
  scrollDown(mine || stick);
  return li;
}

function markFailed(li) {
  li.classList.remove('pending');
  li.classList.add('failed');
  li.querySelector('time').textContent = 'not delivered';
}

// Marks our message still being sent (or, with `all`, every one) as not delivered.
export function failPending(all = false) {
  if (all) {
    for (const p of list.querySelectorAll('.msg.pending')) markFailed(p);
    return;
  }
  const p = list.querySelector('.msg.pending');
  if (p) markFailed(p);
}

// Both sides' delivered messages, for a report's excerpt.
function remember(from, text, sentAt) {
  const { room } = state;
  room.msgs.push({ from, text, sent_at: sentAt });
  if (room.msgs.length > 50) room.msgs.splice(0, room.msgs.length - 50);
}

export function onMessage(ev) {
  const { room } = state;
  if (!room || ev.room !== room.id || state.phase !== 'chat') return;
  const mine = !ev.from || ev.from.id !== room.partner.id;
  const text = typeof ev.message === 'string' ? ev.message : '';
  const sentAt = typeof ev.sent_at === 'string' ? ev.sent_at : new Date().toISOString();
  if (text.trim()) {
    remember(mine ? 'me' : 'partner', text, sentAt);
    if (mine) {
      const pending = typeof ev.id === 'string' ? list.querySelector(`.msg.mine[data-id="${CSS.escape(ev.id)}"]`) : null;
      if (pending) {
        pending.classList.remove('pending', 'failed');
        const t = pending.querySelector('time');
        t.textContent = timeText(sentAt);
        t.dateTime = sentAt;
      } else {
        bubble(text, true, sentAt);
      }
    } else {
      hideTyping();
      bubble(text, false, sentAt);
    }
  } else if (!mine && ev.typing === true) {
    showTyping();
  } else if (!mine && ev.typing === false) {
    hideTyping();
  }
}

function showTyping() {
  $('typing').textContent = `${state.room.partner.name} is typing…`;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(hideTyping, TYPING_SHOW_MS);
}

function hideTyping() {
  clearTimeout(typingTimer);
  $('typing').textContent = '';
}

const canSend = () => state.phase === 'chat' && state.room && !state.room.away;

function updateComposer() {
  $('send-btn').disabled = !msg.value.trim() || !canSend();
  $('next-btn').disabled = state.phase !== 'chat';
}

function autosize() {
  msg.style.height = 'auto';
  msg.style.height = `${Math.min(msg.scrollHeight, 160)}px`;
  updateComposer();
}

function sendText() {
  const text = msg.value;
  if (!text.trim() || !canSend()) return; // empty messages are refused
  const id = Math.random().toString(36).slice(2, 12);
  if (!send({ action: 'message', room: state.room.id, message: text, id })) {
    setStatus('Not connected — the message was not sent.');
    return;
  }
  const li = bubble(text, true, null, id);
  li.classList.add('pending');
  setTimeout(() => { if (li.classList.contains('pending')) markFailed(li); }, ANSWER_TIMEOUT_MS);
  msg.value = '';
  lastTypingSent = 0;
  autosize();
  msg.focus();
}

msg.addEventListener('input', () => {
  autosize();
  if (!canSend()) return;
  const now = Date.now();
  if (msg.value.trim()) {
    if (now - lastTypingSent > TYPING_SEND_MS) {
      send({ action: 'message', room: state.room.id, typing: true });
      lastTypingSent = now;
    }
  } else if (lastTypingSent) {
    send({ action: 'message', room: state.room.id, typing: false });
    lastTypingSent = 0;
  }
});

msg.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    sendText();
  }
});

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  sendText();
});

$('next-btn').addEventListener('click', () => {
  if (state.phase !== 'chat') return;
  send({ action: 'leave_room', room: state.room.id, requeue: true });
  endRoom();
  requeued();
  showWaiting(false);
  $('waiting-title').textContent = 'Looking for someone new…';
});

$('leave-btn').addEventListener('click', () => {
  if (state.phase === 'resuming') {
    // No socket to say it on: the server ends the seat when the grace runs out.
    hangUp();
    endChat('You left the chat.');
    return;
  }
  if (state.phase !== 'chat') return;
  send({ action: 'leave_room', room: state.room.id });
  endChat('You left the chat.');
});

$('again-btn').addEventListener('click', () => {
  if (!isOpen()) { connect(); return; }
  if (sittingOut()) { comeBack(); return; }
  showWaiting(false);
  $('waiting-title').textContent = 'Looking for someone new…';
  join();
});

$('exit-btn').addEventListener('click', backToJoin);

// The chat's countdown: the room's own end, else the round's.
onTick(() => {
  const now = Date.now();
  const r = activeRound();
  const { room } = state;
  const c = $('chat-timer');
  const ends = room && (state.phase === 'chat' || state.phase === 'resuming') ? room.endsAt || (r ? r.endsAt : 0) : 0;
  c.hidden = !ends;
  setText(c, !ends ? '' : ends > now
    ? `${r ? `Round ${r.number} · ` : ''}${clock(ends - now)} left`
    : 'Time is up…');
});
