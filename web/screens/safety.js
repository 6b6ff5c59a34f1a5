// Block and report: the buttons on the chat and break screens, the report
// dialog, and the server's answer. They reach the current room, or any recent
// one for 10 minutes after it ended (Recent chats, recent.js).

import { $, el, setStatus, setText } from '../lib/dom.js';
import { timeText } from '../lib/format.js';
import { state } from '../state.js';
import { ANSWER_TIMEOUT_MS, isOpen, send } from '../session/socket.js';
import { confirmBox, openModal } from '../ui/dialogs.js';
import { onTick } from '../ui/ticker.js';
import { endChat, note } from './chat.js';

const SAFETY_WINDOW_MS = 600_000;   // block and report work on the last room for 10 minutes
const EXCERPT_MAX = 20;
const EXCERPT_TEXT_MAX = 1000;

let safetyPending = null; // { kind: 'block' | 'report', room, timer }
let reportRoom = null;

function safetyOpen(r) {
  if (!r || r.safety || !isOpen()) return false;
  return r.endedAt ? Date.now() - r.endedAt < SAFETY_WINDOW_MS : state.phase === 'chat';
}

function updateSafety() {
  const { room, screen } = state;
  const open = safetyOpen(room) || !!safetyPending;
  const shown = open || (state.phase === 'resuming' && room && !room.safety);
  $('safety').hidden = !(screen === 'chat' && shown);
  $('break-safety').hidden = !(screen === 'break' && room && (open || room.safety));
  for (const id of ['report-btn', 'block-btn', 'break-report-btn', 'break-block-btn']) $(id).disabled = !!safetyPending || !open;
  if (room) {
    setText($('break-report-btn'), `Report ${room.partner.name}`);
    setText($('break-block-btn'), `Block ${room.partner.name}`);
    if (!room.safety) setText($('break-safety-text'), `Was something wrong in your chat with ${room.partner.name}? You can still report or block them for a few minutes.`);
  }
  $('break-safety').querySelector('.actions').hidden = !!(room && room.safety);
}
onTick(updateSafety);

function safetySend(kind, r, frame) {
  if (!send(frame)) return false;
  clearTimeout(safetyPending && safetyPending.timer);
  safetyPending = {
    kind,
    room: r,
    timer: setTimeout(() => safetyFailed('timeout', "Circle didn't answer. Try again."), ANSWER_TIMEOUT_MS),
  };
  updateSafety();
  return true;
}

function safetyFailed(code, message) {
  const p = safetyPending;
  if (!p) return;
  clearTimeout(p.timer);
  safetyPending = null;
  const text = code === 'rate_limited' ? 'Wait a second, then try again.'
    : code === 'not_in_room' ? 'It is too late for that: blocking and reporting work for 10 minutes after a chat ends.'
      : `That didn't work: ${message}`;
  if (p.kind === 'report' && $('report-dialog').open) {
    $('report-err').textContent = text;
    $('report-send').disabled = false;
    $('report-send').textContent = 'Send report';
  } else {
    setStatus(p.kind === 'block' ? `Couldn't block: ${text}` : `Couldn't send the report: ${text}`);
  }
  updateSafety();
}

// A server error that answers a pending block or report; false if it is not one.
export function safetyRefused(code, message) {
  if (!safetyPending || !['rate_limited', 'not_in_room', 'bad_request', 'internal'].includes(code)) return false;
  safetyFailed(code, message);
  return true;
}

// `blocked` or `reported` from the server.
export function onSafetyDone(ev) {
  const p = safetyPending;
  if (!p || ev.room !== p.room.id) return;
  clearTimeout(p.timer);
  safetyPending = null;
  const r = p.room;
  r.safety = ev.event;
  const name = r.partner.name;
  const text = ev.event === 'blocked'
    ? `You blocked ${name}. You won't be paired with them again in this circle.`
    : `Thanks: your report was sent to the organiser, and you won't be paired with ${name} again in this circle.`;
  if ($('report-dialog').open) $('report-dialog').close();
  if (state.room === r && state.phase === 'chat') {
    endChat(text);
  } else if (state.room === r && state.screen === 'chat') {
    note(text);
    $('ended-text').textContent = text;
    $('again-btn').focus();
  } else if (state.room === r && state.screen === 'break') {
    $('break-safety-text').textContent = text;
    $('break-exit').focus();
  } else {
    setStatus(text);
  }
  updateSafety();
}

// Block (and below, report) the current room's partner, or `r`, a recent room's.
export async function blockPartner(r = state.room) {
  if (!safetyOpen(r)) return;
  const name = r.partner.name;
  const ok = await confirmBox(`Block ${name}?`,
    `The chat ends and you won't be paired with ${name} again in this circle. ${name} isn't told that you blocked them: they only see that the chat ended.`,
    `Block ${name}`);
  if (!ok) return;
  if (!safetySend('block', r, { action: 'block', room: r.id })) setStatus("You're not connected to Circle, so the block couldn't be sent.");
}

export function openReport(r = state.room) {
  if (!safetyOpen(r)) return;
  reportRoom = r;
  const name = r.partner.name;
  const { session } = state;
  const circle = session && session.group ? `“${session.group.name}”` : 'this circle';
  $('report-title').textContent = `Report ${name}`;
  $('report-desc').textContent = `The organiser of ${circle} will see this report: what you write, the messages you tick below, and both your display names. The chat ends, and you won't be paired with ${name} again. ${name} isn't told that you reported them.`;
  const reason = $('report-reason');
  reason.value = '';
  reason.removeAttribute('aria-invalid');
  $('report-reason-err').textContent = '';
  $('report-err').textContent = '';
  $('report-count').textContent = '0 / 500';
  $('report-send').disabled = false;
  $('report-send').textContent = 'Send report';
  const items = r.msgs.slice(-EXCERPT_MAX);
  const offset = r.msgs.length - items.length;
  $('report-msgs').replaceChildren(...items.map((m, i) => {
    const li = el('li');
    const box = el('input');
    box.type = 'checkbox';
    box.id = `rx-${i}`;
    box.value = String(offset + i);
    const label = el('label');
    label.htmlFor = box.id;
    label.append(el('span', 'who', `${m.from === 'me' ? 'You' : name}, ${timeText(m.sent_at)}`), el('span', 'said', m.text));
    li.append(box, label);
    return li;
  }));
  $('report-none').hidden = items.length > 0;
  $('report-msgs').hidden = items.length === 0;
  openModal($('report-dialog'), reason);
}

$('report-reason').addEventListener('input', (e) => {
  $('report-count').textContent = `${e.target.value.length} / 500`;
  if (e.target.value.trim()) {
    e.target.removeAttribute('aria-invalid');
    $('report-reason-err').textContent = '';
  }
});

$('report-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const r = reportRoom;
  const input = $('report-reason');
  const reason = input.value.trim();
  $('report-err').textContent = '';
  if (!reason || reason.length > 500) {
    $('report-reason-err').textContent = reason ? 'Keep it to 500 characters.' : 'Say briefly what happened.';
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  const excerpt = [...$('report-msgs').querySelectorAll('input:checked')].map((b) => {
    const m = r.msgs[+b.value];
    return { from: m.from, text: m.text.slice(0, EXCERPT_TEXT_MAX), sent_at: m.sent_at };
  });
  if (!r || !safetySend('report', r, { action: 'report', room: r.id, reason, excerpt })) {
    $('report-err').textContent = "You're not connected to Circle, so the report can't be sent right now.";
    return;
  }
  $('report-send').disabled = true;
  $('report-send').textContent = 'Sending…';
});

$('report-cancel').addEventListener('click', () => $('report-dialog').close());
$('report-btn').addEventListener('click', () => openReport());
$('break-report-btn').addEventListener('click', () => openReport());
$('block-btn').addEventListener('click', () => blockPartner());
$('break-block-btn').addEventListener('click', () => blockPartner());
