// Circle's page: create a circle, join one, wait, chat. No dependencies.
// Message text is only ever put on the page with textContent, never as HTML.

const $ = (id) => document.getElementById(id);
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_LEN = 10;
const MAX_RULES = 20;
const WAIT_KEEPALIVE_MS = 20_000;   // re-send join_group while waiting (keeps the socket alive, re-checks pairing)
const ROOM_KEEPALIVE_MS = 240_000;  // API Gateway drops sockets idle for 10 min
const ANSWER_TIMEOUT_MS = 15_000;   // how long a join may go unanswered
const CONNECT_TIMEOUT_MS = 10_000;
const TYPING_SEND_MS = 2_500;       // at most one "typing" per this
const TYPING_SHOW_MS = 4_000;       // how long a partner's "typing" shows

// ---------- config and HTTP ----------

let config = null;
const configReady = fetch('./config.json', { cache: 'no-store' })
  .then((r) => {
    if (!r.ok) throw new Error(`config.json: HTTP ${r.status}`);
    return r.json();
  })
  .then((c) => {
    config = { http_url: String(c.http_url).replace(/\/+$/, ''), ws_url: String(c.ws_url) };
    return config;
  });
configReady.catch(() => setStatus("Couldn't load Circle's settings. Reload the page to try again."));

async function api(path, body) {
  await configReady;
  const init = body === undefined
    ? { method: 'GET' }
    : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const r = await fetch(config.http_url + path, init);
  let data = null;
  try { data = await r.json(); } catch { /* not JSON */ }
  return { status: r.status, data };
}

// ---------- small helpers ----------

const normalizeCode = (s) => s.replace(/[\s-]+/g, '').toUpperCase();
const formatCode = (c) => (c.length === CODE_LEN ? `${c.slice(0, 5)}-${c.slice(5)}` : c);
const isCode = (c) => c.length === CODE_LEN && [...c].every((ch) => ALPHABET.includes(ch));

function inviteLink(code) {
  const u = new URL(location.href);
  u.search = '';
  u.hash = '';
  u.searchParams.set('code', formatCode(code));
  return u.href;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fillGroup(prefix, group) {
  $(`${prefix}-name`).textContent = group.name;
  $(`${prefix}-desc`).textContent = group.description;
  const list = $(`${prefix}-rules`);
  list.replaceChildren(...(group.rules || []).map((r) => el('li', '', r)));
  $(`${prefix}-rules-wrap`).hidden = !(group.rules && group.rules.length);
}

function setStatus(text) {
  const s = $('status');
  s.textContent = text;
  s.hidden = !text;
}

const savedName = () => { try { return localStorage.getItem('circle.name') || ''; } catch { return ''; } };
const saveName = (n) => { try { localStorage.setItem('circle.name', n); } catch { /* private mode */ } };

async function copy(text, button, fallbackInput) {
  const label = button.dataset.label || (button.dataset.label = button.textContent);
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied!';
  } catch {
    if (fallbackInput) { fallbackInput.focus(); fallbackInput.select(); }
    button.textContent = 'Press Ctrl+C to copy';
  }
  clearTimeout(button._t);
  button._t = setTimeout(() => { button.textContent = label; }, 2000);
}

// ---------- screens ----------

let screen = 'home';
const focusOf = {
  create: () => $('c-name'),
  join: () => ($('j-code').value ? $('j-name') : $('j-code')),
  chat: () => $('msg'),
  trouble: () => $('rejoin-btn'),
};

function show(name) {
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.dataset.screen !== name;
  const changed = screen !== name;
  screen = name;
  document.body.dataset.screen = name;
  setStatus('');
  if (changed) {
    const f = focusOf[name] ? focusOf[name]() : document.querySelector(`#screen-${name} h1`);
    f && f.focus();
    window.scrollTo(0, 0);
  }
}

function go(where) {
  if (where === 'create') openCreate();
  else if (where === 'join') openJoin(session ? session.code : '');
  else show('home');
}

// ---------- create ----------

const rulesList = $('rules');

function renumberRules() {
  [...rulesList.children].forEach((li, i) => {
    li.querySelector('input').setAttribute('aria-label', `Rule ${i + 1}`);
    li.querySelector('button').setAttribute('aria-label', `Remove rule ${i + 1}`);
  });
  $('add-rule').disabled = rulesList.children.length >= MAX_RULES;
}

function addRule(value = '') {
  if (rulesList.children.length >= MAX_RULES) return;
  const li = el('li');
  const row = el('div', 'row');
  const input = el('input');
  input.maxLength = 200;
  input.value = value;
  input.autocomplete = 'off';
  const remove = el('button', 'small', 'Remove');
  remove.type = 'button';
  remove.addEventListener('click', () => {
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    renumberRules();
    (next ? next.querySelector('input') : $('add-rule')).focus();
  });
  const err = el('p', 'err');
  row.append(input, remove);
  li.append(row, err);
  rulesList.append(li);
  renumberRules();
  input.focus();
}

// A field's error goes as soon as it is edited.
$('create-form').addEventListener('input', (e) => {
  const input = e.target;
  if (!input.hasAttribute('aria-invalid')) return;
  input.removeAttribute('aria-invalid');
  const out = input.id === 'c-name' ? $('c-name-err') : input.id === 'c-desc' ? $('c-desc-err') : input.closest('li')?.querySelector('.err');
  if (out) out.textContent = '';
});

function clearErrors(form) {
  for (const e of form.querySelectorAll('.err')) e.textContent = '';
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

function openCreate() {
  const form = $('create-form');
  form.reset();
  rulesList.replaceChildren();
  renumberRules();
  clearErrors(form);
  show('create');
}

function fieldError(field, message, sentRules) {
  const text = String(message || 'is not valid').replace(/^[^:]*:\s*/, '');
  let input = null;
  let out = null;
  let label = '';
  const m = /^rules\[(\d+)\]$/.exec(field || '');
  if (field === 'name') { input = $('c-name'); out = $('c-name-err'); label = 'Name'; }
  else if (field === 'description') { input = $('c-desc'); out = $('c-desc-err'); label = 'Description'; }
  else if (field === 'rules') { out = $('c-rules-err'); label = 'Rules'; }
  else if (m && sentRules[+m[1]]) {
    input = sentRules[+m[1]];
    const li = input.closest('li');
    out = li.querySelector('.err');
    label = `Rule ${[...rulesList.children].indexOf(li) + 1}`;
    input.setAttribute('aria-describedby', (out.id = `rule-err-${m[1]}`));
  }
  if (!out) { $('c-form-err').textContent = message || 'The circle could not be created.'; return; }
  out.textContent = `${label} ${text}`;
  if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
}

$('create-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  const ruleInputs = [...rulesList.querySelectorAll('input')].filter((i) => i.value.trim());
  const body = {
    name: $('c-name').value,
    description: $('c-desc').value,
    rules: ruleInputs.map((i) => i.value),
  };
  const button = $('create-submit');
  button.disabled = true;
  button.textContent = 'Creating…';
  try {
    const { status, data } = await api('/groups', body);
    if (status === 201 && data && data.access_code) showCreated(data);
    else if (status === 400 && data) fieldError(data.field, data.message, ruleInputs);
    else $('c-form-err').textContent = (data && data.message) || `The circle could not be created (HTTP ${status}). Try again.`;
  } catch {
    $('c-form-err').textContent = "Couldn't reach Circle. Check your connection and try again.";
  } finally {
    button.disabled = false;
    button.textContent = 'Create circle';
  }
});

let created = null;
function showCreated(group) {
  created = group;
  const code = normalizeCode(group.access_code);
  $('created-name').textContent = group.name;
  $('created-code').textContent = formatCode(code);
  $('created-link').value = inviteLink(code);
  show('created');
}

// ---------- join ----------

let lookupSeq = 0;
let preview = null; // { code, group }
let lookupTimer = 0;

function codeError(text) {
  $('j-code-err').textContent = text;
  if (text) $('j-code').setAttribute('aria-invalid', 'true');
  else $('j-code').removeAttribute('aria-invalid');
}

// Looks the code up; returns the group or null (having said why, when `final`).
async function lookup(final) {
  const code = normalizeCode($('j-code').value);
  const seq = ++lookupSeq;
  if (preview && preview.code === code) return preview.group;
  preview = null;
  $('preview').hidden = true;
  if (!isCode(code)) {
    codeError(final || code.length > CODE_LEN
      ? (code ? 'Access codes have 10 letters and digits, like ABCDE-FGHJK.' : 'Enter the access code you were given.')
      : '');
    return null;
  }
  codeError('');
  try {
    const { status, data } = await api(`/groups/${encodeURIComponent(code)}`);
    if (seq !== lookupSeq) return null;
    if (status === 200 && data) {
      preview = { code, group: data };
      fillGroup('preview', data);
      $('preview').hidden = false;
      return data;
    }
    codeError(status === 404
      ? 'No circle has this code. Check it for typos — or the circle may have expired (circles last 3 days).'
      : (data && data.message) || `Couldn't check this code (HTTP ${status}). Try again.`);
  } catch {
    if (seq === lookupSeq) codeError("Couldn't reach Circle to check this code. Check your connection and try again.");
  }
  return null;
}

function openJoin(code) {
  $('j-name').value = $('j-name').value || savedName();
  if (code !== undefined && code !== null) $('j-code').value = code ? formatCode(normalizeCode(code)) : '';
  const c = normalizeCode($('j-code').value);
  history.replaceState(null, '', c ? inviteLink(c) : location.pathname);
  show('join');
  if (c) lookup(true);
}

$('j-code').addEventListener('input', () => {
  clearTimeout(lookupTimer);
  lookupTimer = setTimeout(() => lookup(false), 250);
});
$('j-code').addEventListener('blur', () => {
  const c = normalizeCode($('j-code').value);
  if (c && !isCode(c)) lookup(true);
});

$('join-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  clearTimeout(lookupTimer);
  const button = $('join-submit');
  button.disabled = true;
  const group = await lookup(true);
  button.disabled = false;
  if (!group) { $('j-code').focus(); return; }
  const name = $('j-name').value.trim();
  saveName(name);
  session = { code: preview.code, name, group };
  history.replaceState(null, '', inviteLink(session.code));
  connect();
});

// ---------- the socket ----------

let session = null;   // { code, name, group }
let ws = null;
let state = 'idle';   // idle | connecting | joining | waiting | chat | ended | dropped
let room = null;      // { id, user, partner: { name, id } }
let lastPartner = '';
let answerTimer = 0;
let waitTimer = 0;
let roomTimer = 0;
let lastSentAt = 0;
let lastJoinAt = 0;
let joinRetries = 0;

function send(obj) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(obj));
  lastSentAt = Date.now();
  return true;
}

function stopTimers() {
  clearTimeout(answerTimer);
  clearInterval(waitTimer);
  clearInterval(roomTimer);
  clearTimeout(typingTimer);
}

function closeSocket() {
  const s = ws;
  ws = null;
  stopTimers();
  if (s) s.close(1000, 'bye');
  state = 'idle';
  room = null;
}

function connect() {
  closeSocket();
  state = 'connecting';
  showWaiting(true);
  configReady.then(() => {
    if (state !== 'connecting' || ws) return;
    let sock;
    try { sock = new WebSocket(config.ws_url); } catch { drop(); return; }
    ws = sock;
    const openTimer = setTimeout(() => { if (ws === sock && sock.readyState !== WebSocket.OPEN) { sock.close(); drop(); } }, CONNECT_TIMEOUT_MS);
    sock.addEventListener('open', () => {
      clearTimeout(openTimer);
      if (ws === sock) { joinRetries = 0; join(); }
    });
    sock.addEventListener('message', (e) => {
      if (ws !== sock) return;
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
      if (ev && typeof ev === 'object') onEvent(ev);
    });
    sock.addEventListener('close', () => {
      clearTimeout(openTimer);
      if (ws === sock) drop();
    });
  }, () => drop());
}

// Asks to be paired; something (waiting, join_room or error) must answer.
function join() {
  state = state === 'waiting' ? 'waiting' : 'joining';
  lastJoinAt = Date.now();
  send({ action: 'join_group', access_code: session.code, name: session.name });
  clearTimeout(answerTimer);
  answerTimer = setTimeout(() => {
    if (state !== 'joining') return;
    const s = ws;
    ws = null;
    if (s) s.close();
    drop("Circle didn't answer. The server may be busy.");
  }, ANSWER_TIMEOUT_MS);
}

function drop(reason) {
  const was = state;
  ws = null;
  stopTimers();
  if (was === 'idle' || was === 'dropped') return;
  state = 'dropped';
  room = null;
  let text = reason || '';
  if (!text) {
    if (was === 'connecting') text = "Couldn't connect to Circle. Check your internet connection, then try again.";
    else if (was === 'chat') text = `The connection dropped, so your chat with ${lastPartner} has ended.`;
    else if (was === 'waiting' || was === 'joining') text = 'The connection to Circle dropped while you were waiting.';
    else text = 'The connection to Circle dropped.';
  }
  $('trouble-text').textContent = `${text} Rejoin to go back to the lobby of this circle.`;
  show('trouble');
}

function onEvent(ev) {
  switch (ev.event) {
    case 'waiting':
      clearTimeout(answerTimer);
      joinRetries = 0;
      state = 'waiting';
      if (ev.group) session.group = ev.group;
      showWaiting(false, ev.waiting);
      clearInterval(waitTimer);
      waitTimer = setInterval(() => { if (state === 'waiting') join(); }, WAIT_KEEPALIVE_MS);
      break;
    case 'join_room':
      clearTimeout(answerTimer);
      clearInterval(waitTimer);
      joinRetries = 0;
      startChat(ev);
      break;
    case 'message':
      onMessage(ev);
      break;
    case 'partner_left':
      if (room && ev.room === room.id && state === 'chat') {
        endChat(ev.reason === 'disconnected'
          ? `${room.partner.name} disconnected.`
          : `${room.partner.name} left the chat.`);
      }
      break;
    case 'error':
      onError(ev);
      break;
    default:
      break;
  }
}

function onError(ev) {
  const message = typeof ev.message === 'string' ? ev.message : 'Something went wrong.';
  const joining = state === 'joining' || state === 'waiting' || state === 'connecting';
  if ((ev.code === 'group_not_found' || ev.code === 'group_expired') && joining) {
    closeSocket();
    preview = null;
    openJoin(session.code);
    codeError(ev.code === 'group_expired'
      ? 'This circle has expired (circles last 3 days). Ask for a new code.'
      : 'No circle has this code any more. Ask for a new code.');
    return;
  }
  if (ev.code === 'rate_limited' && state === 'joining' && joinRetries < 3) {
    joinRetries += 1;
    clearTimeout(answerTimer);
    setStatus('Circle is busy; trying again…');
    answerTimer = setTimeout(join, 1000 * joinRetries);
    return;
  }
  // A keep-alive join refused for a busy moment: the next one tries again.
  if (ev.code === 'rate_limited' && state === 'waiting') return;
  // A keep-alive join that crossed our pairing ("already in a room"), or a
  // message that crossed the end of a room: nothing is wrong.
  if (ev.code === 'bad_request' && state === 'chat' && Date.now() - lastJoinAt < 10_000) return;
  if (ev.code === 'not_in_room') {
    if (state === 'chat') endChat('This chat has ended.');
    return;
  }
  if (ev.code === 'payload_too_large') {
    const p = $('log').querySelector('.msg.pending');
    if (p) markFailed(p);
    setStatus('That message is too long to send.');
    return;
  }
  if (state === 'joining') {
    const s = ws;
    ws = null;
    if (s) s.close();
    drop(`Circle couldn't put you in the lobby: ${message}`);
    return;
  }
  setStatus(message);
}

// ---------- waiting ----------

function showWaiting(connecting, count) {
  $('waiting-title').textContent = connecting ? 'Connecting…' : 'Waiting for someone…';
  let text = '';
  if (!connecting && typeof count === 'number') {
    const others = Math.max(0, count - 1);
    text = others === 0
      ? "You're the only one in the lobby right now. Invite someone with the link below."
      : `${others} other ${others === 1 ? 'person is' : 'people are'} in the lobby. You'll be paired as soon as someone new is free.`;
  } else if (!connecting) {
    text = "You'll be paired as soon as someone is free.";
  }
  $('waiting-count').textContent = text;
  if (session && session.group) {
    fillGroup('waiting', session.group);
    $('waiting-group').hidden = false;
  } else {
    $('waiting-group').hidden = true;
  }
  if (session) $('waiting-link').value = inviteLink(session.code);
  show('waiting');
}

$('waiting-cancel').addEventListener('click', () => {
  closeSocket();
  openJoin(session ? session.code : '');
});

// ---------- chat ----------

const log = $('log');
const msg = $('msg');
let lastTypingSent = 0;
let typingTimer = 0;

function startChat(ev) {
  state = 'chat';
  room = { id: ev.room, user: ev.user, partner: ev.match || { name: 'Someone', id: '' } };
  lastPartner = room.partner.name;
  $('chat-title').textContent = `Chatting with ${room.partner.name}`;
  log.replaceChildren();
  note(`You're now chatting with ${room.partner.name} from ${session.group ? session.group.name : 'this circle'}. Say hi!`);
  hideTyping();
  $('ended').hidden = true;
  $('composer').hidden = false;
  $('chat-live-actions').hidden = false;
  msg.value = '';
  autosize();
  lastTypingSent = 0;
  clearInterval(roomTimer);
  roomTimer = setInterval(() => {
    if (state === 'chat' && Date.now() - lastSentAt > ROOM_KEEPALIVE_MS) send({ action: 'message', room: room.id, typing: false });
  }, 30_000);
  const wasChat = screen === 'chat';
  show('chat');
  if (wasChat) msg.focus();
}

function endChat(text) {
  state = 'ended';
  clearInterval(roomTimer);
  hideTyping();
  note(text);
  $('chat-title').textContent = `Chat with ${lastPartner} ended`;
  for (const p of log.querySelectorAll('.msg.pending')) markFailed(p);
  room = null;
  $('ended-text').textContent = text;
  $('ended').hidden = false;
  $('composer').hidden = true;
  $('chat-live-actions').hidden = true;
  $('again-btn').focus();
}

function nearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
}

function scrollDown(force) {
  if (force || nearBottom()) log.scrollTop = log.scrollHeight;
}

function note(text) {
  const stick = nearBottom();
  log.append(el('li', 'note', text));
  scrollDown(stick);
}

function timeText(iso) {
  const d = iso ? new Date(iso) : new Date();
  return (Number.isNaN(d.getTime()) ? new Date() : d).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function bubble(text, mine, sentAt, id) {
  const stick = nearBottom();
  const li = el('li', `msg ${mine ? 'mine' : 'theirs'}`);
  if (id) li.dataset.id = id;
  const who = el('span', 'visually-hidden', mine ? 'You: ' : `${room ? room.partner.name : lastPartner}: `);
  const body = el('p', 'text', text);
  const time = el('time', '', sentAt ? timeText(sentAt) : 'sending…');
  if (sentAt) time.dateTime = sentAt;
  li.append(who, body, time);
  log.append(li);
  scrollDown(mine || stick);
  return li;
}

function markFailed(li) {
  li.classList.remove('pending');
  li.classList.add('failed');
  li.querySelector('time').textContent = 'not delivered';
}

function onMessage(ev) {
  if (!room || ev.room !== room.id || state !== 'chat') return;
  const mine = !ev.from || ev.from.id !== room.partner.id;
  const text = typeof ev.message === 'string' ? ev.message : '';
  if (text.trim()) {
    if (mine) {
      const pending = typeof ev.id === 'string' ? log.querySelector(`.msg.mine[data-id="${CSS.escape(ev.id)}"]`) : null;
      if (pending) {
        pending.classList.remove('pending', 'failed');
        const t = pending.querySelector('time');
        t.textContent = timeText(ev.sent_at);
        if (ev.sent_at) t.dateTime = ev.sent_at;
      } else {
        bubble(text, true, ev.sent_at || new Date().toISOString());
      }
    } else {
      hideTyping();
      bubble(text, false, ev.sent_at || new Date().toISOString());
    }
  } else if (!mine && ev.typing === true) {
    showTyping();
  } else if (!mine && ev.typing === false) {
    hideTyping();
  }
}

function showTyping() {
  $('typing').textContent = `${room.partner.name} is typing…`;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(hideTyping, TYPING_SHOW_MS);
}

function hideTyping() {
  clearTimeout(typingTimer);
  $('typing').textContent = '';
}

function autosize() {
  msg.style.height = 'auto';
  msg.style.height = `${Math.min(msg.scrollHeight, 160)}px`;
  $('send-btn').disabled = !msg.value.trim();
}

function sendText() {
  const text = msg.value;
  if (!text.trim() || state !== 'chat') return; // empty messages are refused
  const id = Math.random().toString(36).slice(2, 12);
  if (!send({ action: 'message', room: room.id, message: text, id })) {
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
  if (state !== 'chat') return;
  const now = Date.now();
  if (msg.value.trim()) {
    if (now - lastTypingSent > TYPING_SEND_MS) {
      send({ action: 'message', room: room.id, typing: true });
      lastTypingSent = now;
    }
  } else if (lastTypingSent) {
    send({ action: 'message', room: room.id, typing: false });
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
  if (state !== 'chat') return;
  send({ action: 'leave_room', room: room.id, requeue: true });
  room = null;
  state = 'joining';
  lastJoinAt = Date.now();
  clearInterval(roomTimer);
  hideTyping();
  // The server answers the requeue with `waiting` or a new `join_room`.
  clearTimeout(answerTimer);
  answerTimer = setTimeout(() => { if (state === 'joining') { const s = ws; ws = null; if (s) s.close(); drop("Circle didn't answer."); } }, ANSWER_TIMEOUT_MS);
  showWaiting(false);
  $('waiting-title').textContent = 'Looking for someone new…';
});

$('leave-btn').addEventListener('click', () => {
  if (state !== 'chat') return;
  send({ action: 'leave_room', room: room.id });
  endChat('You left the chat.');
});

$('again-btn').addEventListener('click', () => {
  if (!ws || ws.readyState !== WebSocket.OPEN) { connect(); return; }
  showWaiting(false);
  $('waiting-title').textContent = 'Looking for someone new…';
  join();
});

$('exit-btn').addEventListener('click', () => {
  closeSocket();
  openJoin(session ? session.code : '');
});

$('rejoin-btn').addEventListener('click', () => {
  if (session) connect();
  else openJoin('');
});

// ---------- wiring ----------

$('go-join').addEventListener('click', () => openJoin(''));
$('go-create').addEventListener('click', openCreate);
$('add-rule').addEventListener('click', () => addRule());
$('copy-code').addEventListener('click', () => copy(formatCode(normalizeCode(created.access_code)), $('copy-code')));
$('copy-link').addEventListener('click', () => copy($('created-link').value, $('copy-link'), $('created-link')));
$('copy-waiting-link').addEventListener('click', () => copy($('waiting-link').value, $('copy-waiting-link'), $('waiting-link')));
$('created-join').addEventListener('click', () => openJoin(created.access_code));
for (const b of document.querySelectorAll('[data-go]')) {
  b.addEventListener('click', () => {
    if (b.dataset.go !== 'join') history.replaceState(null, '', location.pathname);
    go(b.dataset.go);
  });
}

const initial = new URLSearchParams(location.search).get('code');
if (initial) openJoin(initial);
else show('home');
