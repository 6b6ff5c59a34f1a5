// The WebSocket session: connect, join the lobby, keep-alives, and taking a
// dropped seat back with `resume`. No DOM: it changes `state` and tells the
// screens through `on(event, fn)`:
//   connecting        a new connection is being opened
//   frame (ev)        a server event the screens handle
//   resuming          the socket dropped mid-chat; trying to take the seat back
//   resumed           the seat is back
//   dropped (reason, was, partner)
//                     the session is over; `was` is the phase it ended in
//   stop              every timer was stopped (screens stop theirs)

import { configReady } from '../lib/api.js';
import { state, serverTime } from '../state.js';

const WAIT_KEEPALIVE_MS = 20_000;   // re-send join_group while waiting (keeps the socket alive, re-checks pairing)
const ROOM_KEEPALIVE_MS = 240_000;  // API Gateway drops sockets idle for 10 min
export const ANSWER_TIMEOUT_MS = 15_000; // how long a join (or a block/report) may go unanswered
const CONNECT_TIMEOUT_MS = 10_000;
const RESUME_ANSWER_MS = 8_000;
const RESUME_RACE_MS = 5_000;      // a `not_in_room` this soon after a drop may mean the server hasn't seen the drop yet

let ws = null;
let answerTimer = 0;
let waitTimer = 0;
let roomTimer = 0;
let resumeTimer = 0;
let resumeFrom = 0;   // when the socket dropped
let resumeUntil = 0;
let resumeTries = 0;
let lastSentAt = 0;
let lastJoinAt = 0;
let joinRetries = 0;

const listeners = {};

export function on(event, fn) {
  (listeners[event] ||= []).push(fn);
}

function emit(event, ...args) {
  for (const fn of listeners[event] || []) fn(...args);
}

export const isOpen = () => !!ws && ws.readyState === WebSocket.OPEN;

// How long ago we last asked to be paired.
export const sinceJoin = () => Date.now() - lastJoinAt;

export function send(obj) {
  if (!isOpen()) return false;
  ws.send(JSON.stringify(obj));
  lastSentAt = Date.now();
  return true;
}

export function stopTimers() {
  clearTimeout(answerTimer);
  clearInterval(waitTimer);
  clearInterval(roomTimer);
  clearTimeout(resumeTimer);
  emit('stop');
}

// Forgets the socket and closes it (its close event is no drop).
function detach() {
  const s = ws;
  ws = null;
  if (s) s.close();
}

// Leaves for good: `phase` is `idle`, or `closed` when the circle is gone for us.
export function closeSocket(phase = 'idle') {
  const s = ws;
  ws = null;
  stopTimers();
  if (s) s.close(1000, 'bye');
  state.phase = phase;
  state.room = null;
  state.round = null;
}

// Leaves a seat that is being resumed: no socket to say it on.
export function hangUp() {
  detach();
  stopTimers();
}

// Closes the socket without its close event counting as a drop, then says why.
export function abandon(reason) {
  detach();
  drop(reason);
}

// Opens a socket; `onOpen` runs when it is open, if `wanted()` still holds.
function openSocket(onOpen, wanted) {
  configReady.then((config) => {
    if (!wanted() || ws) return;
    let sock;
    try { sock = new WebSocket(config.ws_url); } catch { socketClosed(); return; }
    ws = sock;
    const openTimer = setTimeout(() => {
      if (ws === sock && sock.readyState !== WebSocket.OPEN) { ws = null; sock.close(); socketClosed(); }
    }, CONNECT_TIMEOUT_MS);
    sock.addEventListener('open', () => {
      clearTimeout(openTimer);
      if (ws === sock) onOpen();
    });
    sock.addEventListener('message', (e) => {
      if (ws !== sock) return;
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
      if (ev && typeof ev === 'object') onFrame(ev);
    });
    sock.addEventListener('close', () => {
      clearTimeout(openTimer);
      if (ws === sock) { ws = null; socketClosed(); }
    });
  }, () => drop());
}

export function connect() {
  closeSocket();
  state.phase = 'connecting';
  state.lastCount = null;
  emit('connecting');
  openSocket(() => { joinRetries = 0; join(); }, () => state.phase === 'connecting');
}

// The socket ended without us closing it: mid-chat, try to take the seat back.
function socketClosed() {
  stopTimers();
  if (state.phase === 'chat' && state.room && state.room.resume) startResume();
  else if (state.phase === 'resuming') retryResume();
  else drop();
}

// Asks to be paired; something (waiting, join_room or error) must answer.
export function join() {
  if (state.phase !== 'waiting' && state.phase !== 'break') state.phase = 'joining';
  lastJoinAt = Date.now();
  const { session } = state;
  const frame = { action: 'join_group', access_code: session.code, name: session.name, member: session.member };
  if (session.circle) frame.circle = session.circle;
  if (session.label) frame.label = session.label;
  send(frame);
  expectAnswer("Circle didn't answer. The server may be busy.");
}

// After a join (or a requeue): with no answer in time, the session is dropped.
function expectAnswer(reason) {
  clearTimeout(answerTimer);
  answerTimer = setTimeout(() => {
    if (state.phase === 'joining') abandon(reason);
  }, ANSWER_TIMEOUT_MS);
}

// Joins again in a moment (the server was busy); false after three tries.
export function retryJoin() {
  if (joinRetries >= 3) return false;
  joinRetries += 1;
  clearTimeout(answerTimer);
  answerTimer = setTimeout(join, 1000 * joinRetries);
  return true;
}

// `leave_room` with `requeue` was sent: the server answers with `waiting` or a new `join_room`.
export function requeued() {
  state.room = null;
  state.phase = 'joining';
  lastJoinAt = Date.now();
  expectAnswer("Circle didn't answer.");
}

export function keepWaiting() {
  clearInterval(waitTimer);
  waitTimer = setInterval(() => { if (state.phase === 'waiting' || state.phase === 'break') join(); }, WAIT_KEEPALIVE_MS);
}

export function startRoomKeepalive() {
  clearInterval(roomTimer);
  roomTimer = setInterval(() => {
    if (state.phase === 'chat' && Date.now() - lastSentAt > ROOM_KEEPALIVE_MS) send({ action: 'message', room: state.room.id, typing: false });
  }, 30_000);
}

export function stopRoomKeepalive() {
  clearInterval(roomTimer);
}

function drop(reason) {
  const was = state.phase;
  ws = null;
  stopTimers();
  if (was === 'idle' || was === 'dropped' || was === 'closed') return;
  state.phase = 'dropped';
  const partner = state.room ? state.room.partner.name : '';
  state.room = null;
  state.round = null;
  emit('dropped', reason, was, partner);
}

// ---------- resume: a dropped socket mid-chat takes its seat back ----------

function startResume() {
  state.phase = 'resuming';
  resumeFrom = Date.now();
  resumeUntil = resumeFrom + state.graceS * 1000;
  resumeTries = 0;
  emit('resuming');
  tryResume();
}

function tryResume() {
  if (state.phase !== 'resuming') return;
  if (Date.now() >= resumeUntil) { drop(); return; }
  openSocket(() => {
    send({ action: 'resume', room: state.room.id, token: state.room.resume });
    clearTimeout(answerTimer);
    answerTimer = setTimeout(() => {
      if (state.phase !== 'resuming') return;
      detach();
      retryResume();
    }, Math.min(RESUME_ANSWER_MS, Math.max(1000, resumeUntil - Date.now())));
  }, () => state.phase === 'resuming');
}

// `until`: try again no later than this (a time on our clock).
function retryResume(until = resumeUntil) {
  clearTimeout(answerTimer);
  resumeTries += 1;
  const wait = Math.min(500 * 2 ** (resumeTries - 1), 8000, Math.max(0, Math.min(until, resumeUntil) - Date.now()));
  clearTimeout(resumeTimer);
  resumeTimer = setTimeout(tryResume, wait);
}

window.addEventListener('online', () => {
  if (state.phase === 'resuming' && !ws) { clearTimeout(resumeTimer); tryResume(); }
});

function resumed(ev) {
  clearTimeout(answerTimer);
  const { room } = state;
  state.phase = 'chat';
  if (typeof ev.resume === 'string' && ev.resume) room.resume = ev.resume;
  if (ev.ends_at) room.endsAt = serverTime(ev.ends_at);
  startRoomKeepalive();
  emit('resumed');
}

// An error while resuming: busy, or a `not_in_room` that may only mean the
// server hasn't noticed the drop yet (its seat isn't held until it has): try
// again shortly. A wrong or late token (or a server that can't resume): the seat is gone.
function resumeRefused(code) {
  const racing = code === 'not_in_room' && Date.now() - resumeFrom < RESUME_RACE_MS;
  if (code === 'rate_limited' || racing) {
    detach();
    retryResume(racing ? resumeFrom + RESUME_RACE_MS : resumeUntil);
    return;
  }
  abandon();
}

// ---------- server events: what the session itself does with them ----------

function onFrame(ev) {
  const { phase, room } = state;
  switch (ev.event) {
    case 'waiting':
      // A count sent just before we were paired is stale once we are in a room.
      // Between chats (`ended`), a round put us in the lobby.
      if (!['connecting', 'joining', 'waiting', 'break', 'ended'].includes(phase)) return;
      clearTimeout(answerTimer);
      joinRetries = 0;
      keepWaiting();
      break;
    case 'sit_out':
      // Also the answer to a join while sitting out.
      clearTimeout(answerTimer);
      break;
    case 'join_room':
      clearTimeout(answerTimer);
      clearInterval(waitTimer);
      joinRetries = 0;
      if (ev.resumed && room && ev.room === room.id && (phase === 'resuming' || phase === 'chat')) {
        resumed(ev);
        return;
      }
      break;
    case 'error':
      if (ev.code !== 'removed' && phase === 'resuming') {
        resumeRefused(ev.code);
        return;
      }
      break;
    default:
      break;
  }
  emit('frame', ev);
}
