// Circle's page: create a circle, join one, wait, chat; and the organiser's view.
// No dependencies. Message text is only ever put on the page with textContent, never as HTML.

const $ = (id) => document.getElementById(id);
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_LEN = 10;
const MAX_RULES = 20;
const WAIT_KEEPALIVE_MS = 20_000;   // re-send join_group while waiting (keeps the socket alive, re-checks pairing)
const ROOM_KEEPALIVE_MS = 240_000;  // API Gateway drops sockets idle for 10 min
const ANSWER_TIMEOUT_MS = 15_000;   // how long a join (or a block/report) may go unanswered
const CONNECT_TIMEOUT_MS = 10_000;
const RESUME_ANSWER_MS = 8_000;
const RESUME_RACE_MS = 5_000;      // a `not_in_room` this soon after a drop may mean the server hasn't seen the drop yet
const TYPING_SEND_MS = 2_500;       // at most one "typing" per this
const TYPING_SHOW_MS = 4_000;       // how long a partner's "typing" shows
const SAFETY_WINDOW_MS = 600_000;   // block and report work on the last room for 10 minutes
const DEFAULT_GRACE_S = 30;         // how long a dropped seat is held for `resume`
const EXCERPT_MAX = 20;
const EXCERPT_TEXT_MAX = 1000;
const ORG_REFRESH_MS = 5_000;
const MEMBER_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
const TITLE = document.title;

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

// `key`: the organiser key, sent only as a header (never in a URL).
async function api(path, { method = 'GET', body, key } = {}) {
  await configReady;
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (key) headers.authorization = `Bearer ${key}`;
  const r = await fetch(config.http_url + path, {
    method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await r.json(); } catch { /* not JSON, or 204 */ }
  return { status: r.status, data, date: r.headers.get('date') };
}

// ---------- small helpers ----------

const normalizeCode = (s) => String(s).replace(/[\s-]+/g, '').toUpperCase();
const formatCode = (c) => (c.length === CODE_LEN ? `${c.slice(0, 5)}-${c.slice(5)}` : c);
const isCode = (c) => c.length === CODE_LEN && [...c].every((ch) => ALPHABET.includes(ch));
const enc = encodeURIComponent;

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

// Changes text only when it differs (live regions announce every change).
function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
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

const store = {
  get(k) { try { return localStorage.getItem(k); } catch { return null; } },
  set(k, v) { try { localStorage.setItem(k, v); } catch { /* private mode */ } },
};
const savedName = () => store.get('circle.name') || '';
const saveName = (n) => store.set('circle.name', n);

// The member secret: made once per circle, kept in this browser, sent with every join.
const memberMemory = new Map(); // when localStorage is unavailable
function memberSecret(circle) {
  const key = `circle.member.${circle}`;
  const kept = store.get(key) || memberMemory.get(key);
  if (kept && /^[A-Za-z0-9_-]{16,64}$/.test(kept)) return kept;
  // 64 symbols: a byte's low 6 bits pick one without bias. 32 symbols = 192 bits.
  const secret = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => MEMBER_ALPHABET[b & 63]).join('');
  memberMemory.set(key, secret);
  store.set(key, secret);
  return secret;
}

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

function timeText(iso) {
  const d = iso ? new Date(iso) : new Date();
  return (Number.isNaN(d.getTime()) ? new Date() : d).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function dateTimeText(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

// 4:05 for 245 s.
function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
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
  if (name !== 'organizer') stopOrganizer();
  if (changed) {
    const f = focusOf[name] ? focusOf[name]() : document.querySelector(`#screen-${name} h1`);
    f && f.focus();
    window.scrollTo(0, 0);
  }
  tick();
}

function go(where) {
  if (where === 'create') openCreate();
  else if (where === 'join') openJoin(session ? session.code : '');
  else show('home');
}

// ---------- dialogs: modal, focus kept inside, Escape closes ----------

function openModal(d, first) {
  const opener = document.activeElement;
  d.addEventListener('close', () => {
    if (opener && opener.isConnected && !opener.disabled && opener.offsetParent) opener.focus();
  }, { once: true });
  d.showModal();
  (first || d.querySelector('button')).focus();
}

for (const d of document.querySelectorAll('dialog')) {
  d.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    const f = [...d.querySelectorAll('button, input, textarea, select, a[href]')]
      .filter((x) => !x.disabled && x.offsetParent !== null);
    if (!f.length) return;
    const [first, last] = [f[0], f[f.length - 1]];
    if (e.shiftKey && (document.activeElement === first || !d.contains(document.activeElement))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (document.activeElement === last || !d.contains(document.activeElement))) {
      e.preventDefault();
      first.focus();
    }
  });
}

function closeDialogs() {
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
}

// Resolves true when the person confirms. Focus starts on Cancel.
function confirmBox(title, text, ok) {
  const d = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = ok;
  return new Promise((resolve) => {
    let yes = false;
    $('confirm-ok').onclick = () => { yes = true; d.close(); };
    $('confirm-cancel').onclick = () => d.close();
    d.addEventListener('close', () => resolve(yes), { once: true });
    openModal(d, $('confirm-cancel'));
  });
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
function clearOnInput(form, errorOf) {
  form.addEventListener('input', (e) => {
    const input = e.target;
    if (!input.hasAttribute('aria-invalid')) return;
    input.removeAttribute('aria-invalid');
    const out = errorOf(input);
    if (out) out.textContent = '';
  });
}
clearOnInput($('create-form'), (i) => (i.id === 'c-name' ? $('c-name-err') : i.id === 'c-desc' ? $('c-desc-err') : i.closest('li')?.querySelector('.err')));

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

// The API's message without its "field: " prefix.
const bare = (message) => String(message || 'is not valid').replace(/^[^:]*:\s*/, '');

function fieldError(field, message, sentRules) {
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
  out.textContent = `${label} ${bare(message)}`;
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
    const { status, data } = await api('/groups', { method: 'POST', body });
    if (status === 201 && data && data.access_code) showCreated(data);
    else if (status === 400 && data) fieldError(data.field, data.message, ruleInputs);
    else if (status === 429) $('c-form-err').textContent = 'Too many circles were created from your network in the last hour. Try again later.';
    else $('c-form-err').textContent = (data && data.message) || `The circle could not be created (HTTP ${status}). Try again.`;
  } catch {
    $('c-form-err').textContent = "Couldn't reach Circle. Check your connection and try again.";
  } finally {
    button.disabled = false;
    button.textContent = 'Create circle';
  }
});

function organizerLink(key) {
  const u = new URL(location.href);
  u.search = '';
  u.hash = `organizer=${enc(key)}`;
  return u.href;
}

let created = null;
function showCreated(group) {
  created = group;
  const code = normalizeCode(group.access_code);
  $('created-name').textContent = group.name;
  $('created-code').textContent = formatCode(code);
  $('created-link').value = inviteLink(code);
  const orgUrl = group.organizer_url || (group.organizer_key ? organizerLink(group.organizer_key) : '');
  $('org-box').hidden = !orgUrl;
  $('created-org-link').value = orgUrl;
  $('open-org').href = orgUrl || './';
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
    const { status, data } = await api(`/groups/${enc(code)}`);
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

// `check`: look the code up at once (not when the server just refused it).
function openJoin(code, check = true) {
  $('j-name').value = $('j-name').value || savedName();
  if (code !== undefined && code !== null) $('j-code').value = code ? formatCode(normalizeCode(code)) : '';
  const c = normalizeCode($('j-code').value);
  history.replaceState(null, '', c ? inviteLink(c) : location.pathname);
  show('join');
  if (c && check) lookup(true);
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
  primeAudio();
  const button = $('join-submit');
  button.disabled = true;
  const group = await lookup(true);
  button.disabled = false;
  if (!group) { $('j-code').focus(); return; }
  const name = $('j-name').value.trim();
  saveName(name);
  const circle = typeof group.id === 'string' && group.id ? group.id : null;
  session = { code: preview.code, name, group, circle, member: memberSecret(circle || preview.code) };
  history.replaceState(null, '', inviteLink(session.code));
  connect();
});

// ---------- the socket ----------

let session = null;   // { code, name, group, circle, member }
let ws = null;
// idle | connecting | joining | waiting | break | chat | resuming | ended | dropped | closed
let state = 'idle';
// The current room, or the last one once it ended (block and report still reach it):
// { id, user, partner: { name, id }, resume, prompt, endsAt, msgs, endedAt, away, safety }
let room = null;
let round = null;     // { number, minutes, endsAt } while timed rounds run (endsAt on our clock)
let skewMs = 0;       // the server's clock minus ours, learnt from `round`
let graceS = DEFAULT_GRACE_S;
let lastCount = null; // the lobby count last heard
let answerTimer = 0;
let waitTimer = 0;
let roomTimer = 0;
let resumeTimer = 0;
let awayTimer = 0;
let resumeFrom = 0;   // when the socket dropped
let resumeUntil = 0;
let resumeTries = 0;
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
  clearTimeout(resumeTimer);
  clearTimeout(awayTimer);
}

function closeSocket() {
  const s = ws;
  ws = null;
  stopTimers();
  if (s) s.close(1000, 'bye');
  state = 'idle';
  room = null;
  round = null;
}

// Closes the socket without its close event counting as a drop, then says why.
function abandon(reason) {
  const s = ws;
  ws = null;
  if (s) s.close();
  drop(reason);
}

// Opens a socket; `onOpen` runs when it is open, if `wanted()` still holds.
function openSocket(onOpen, wanted) {
  configReady.then(() => {
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
      if (ev && typeof ev === 'object') onEvent(ev);
    });
    sock.addEventListener('close', () => {
      clearTimeout(openTimer);
      if (ws === sock) { ws = null; socketClosed(); }
    });
  }, () => drop());
}

function connect() {
  closeSocket();
  state = 'connecting';
  lastCount = null;
  showWaiting(true);
  openSocket(() => { joinRetries = 0; join(); }, () => state === 'connecting');
}

// The socket ended without us closing it: mid-chat, try to take the seat back.
function socketClosed() {
  stopTimers();
  if (state === 'chat' && room && room.resume) startResume();
  else if (state === 'resuming') retryResume();
  else drop();
}

// Asks to be paired; something (waiting, join_room or error) must answer.
function join() {
  if (state !== 'waiting' && state !== 'break') state = 'joining';
  lastJoinAt = Date.now();
  const frame = { action: 'join_group', access_code: session.code, name: session.name, member: session.member };
  if (session.circle) frame.circle = session.circle;
  send(frame);
  clearTimeout(answerTimer);
  answerTimer = setTimeout(() => {
    if (state === 'joining') abandon("Circle didn't answer. The server may be busy.");
  }, ANSWER_TIMEOUT_MS);
}

function keepWaiting() {
  clearInterval(waitTimer);
  waitTimer = setInterval(() => { if (state === 'waiting' || state === 'break') join(); }, WAIT_KEEPALIVE_MS);
}

function drop(reason) {
  const was = state;
  ws = null;
  stopTimers();
  if (was === 'idle' || was === 'dropped' || was === 'closed') return;
  state = 'dropped';
  const partner = room ? room.partner.name : '';
  room = null;
  round = null;
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

// The circle is gone for us (closed by its organiser, or we were removed): stop.
function closedFor(title, text) {
  const s = ws;
  ws = null;
  stopTimers();
  state = 'closed';
  room = null;
  round = null;
  closeDialogs();
  if (s) s.close(1000, 'bye');
  $('closed-title').textContent = title;
  $('closed-text').textContent = text;
  show('closed');
}

// ---------- resume: a dropped socket mid-chat takes its seat back ----------

function startResume() {
  state = 'resuming';
  resumeFrom = Date.now();
  resumeUntil = resumeFrom + graceS * 1000;
  resumeTries = 0;
  hideTyping();
  for (const p of list.querySelectorAll('.msg.pending')) markFailed(p);
  banner('Reconnecting…');
  updateComposer();
  tick();
  tryResume();
}

function tryResume() {
  if (state !== 'resuming') return;
  if (Date.now() >= resumeUntil) { drop(); return; }
  openSocket(() => {
    send({ action: 'resume', room: room.id, token: room.resume });
    clearTimeout(answerTimer);
    answerTimer = setTimeout(() => {
      if (state !== 'resuming') return;
      const s = ws;
      ws = null;
      if (s) s.close();
      retryResume();
    }, Math.min(RESUME_ANSWER_MS, Math.max(1000, resumeUntil - Date.now())));
  }, () => state === 'resuming');
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
  if (state === 'resuming' && !ws) { clearTimeout(resumeTimer); tryResume(); }
});

function resumed(ev) {
  clearTimeout(answerTimer);
  state = 'chat';
  if (typeof ev.resume === 'string' && ev.resume) room.resume = ev.resume;
  if (ev.ends_at) room.endsAt = serverTime(ev.ends_at);
  banner(room.away ? `${room.partner.name} is reconnecting…` : '');
  note('Reconnected.');
  startRoomKeepalive();
  updateComposer();
  tick();
}

// ---------- events ----------

function onEvent(ev) {
  switch (ev.event) {
    case 'waiting':
      onWaiting(ev);
      break;
    case 'join_room':
      clearTimeout(answerTimer);
      clearInterval(waitTimer);
      joinRetries = 0;
      if (ev.resumed && room && ev.room === room.id && (state === 'resuming' || state === 'chat')) resumed(ev);
      else startChat(ev);
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
    case 'partner_away':
      if (room && ev.room === room.id && (state === 'chat' || state === 'resuming')) partnerAway(ev);
      break;
    case 'partner_back':
      if (room && ev.room === room.id && room.away) partnerBack();
      break;
    case 'blocked':
    case 'reported':
      onSafetyDone(ev);
      break;
    case 'round':
      onRound(ev);
      break;
    case 'round_over':
      if (room && ev.room === room.id && (state === 'chat' || state === 'resuming')) roundOver(Number(ev.number) || 0);
      break;
    case 'circle_closed':
      closedFor('This circle is closed', 'The organiser closed this circle: every chat in it has ended and it no longer exists. Thanks for taking part.');
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
  const joining = state === 'joining' || state === 'waiting' || state === 'connecting' || state === 'break';
  if (ev.code === 'removed') {
    closedFor('You were removed from this circle', "The circle's organiser removed you, so you can't chat in it any more.");
    return;
  }
  if (state === 'resuming') {
    // Busy, or a `not_in_room` that may only mean the server hasn't noticed the
    // drop yet (its seat isn't held until it has): try again shortly.
    const racing = ev.code === 'not_in_room' && Date.now() - resumeFrom < RESUME_RACE_MS;
    if (ev.code === 'rate_limited' || racing) {
      const s = ws;
      ws = null;
      if (s) s.close();
      retryResume(racing ? resumeFrom + RESUME_RACE_MS : resumeUntil);
      return;
    }
    // A wrong or late token (or a server that can't resume): the seat is gone.
    abandon();
    return;
  }
  if (safetyPending && ['rate_limited', 'not_in_room', 'bad_request', 'internal'].includes(ev.code)) {
    safetyFailed(ev.code, message);
    return;
  }
  if ((ev.code === 'group_not_found' || ev.code === 'group_expired') && joining) {
    closeSocket();
    preview = null;
    $('preview').hidden = true;
    openJoin(session.code, false);
    codeError(ev.code === 'group_expired'
      ? 'This circle has expired (circles last 3 days). Ask for a new code.'
      : "This code doesn't work any more: the organiser may have changed it or closed the circle. Ask them for the new code.");
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
  if (ev.code === 'rate_limited' && (state === 'waiting' || state === 'break')) return;
  // A keep-alive join that crossed our pairing ("already in a room"), or a
  // message that crossed the end of a room: nothing is wrong.
  if (ev.code === 'bad_request' && state === 'chat' && Date.now() - lastJoinAt < 10_000) return;
  if (ev.code === 'not_in_room') {
    if (state === 'chat') endChat('This chat has ended.');
    return;
  }
  if (ev.code === 'partner_away') {
    const p = list.querySelector('.msg.pending');
    if (p) markFailed(p);
    if (state === 'chat' && room && !room.away) partnerAway({ grace_s: graceS });
    return;
  }
  if (ev.code === 'payload_too_large') {
    const p = list.querySelector('.msg.pending');
    if (p) markFailed(p);
    setStatus('That message is too long to send.');
    return;
  }
  if (ev.code === 'rate_limited' && state === 'chat') {
    const p = list.querySelector('.msg.pending');
    if (p) markFailed(p);
    setStatus("You're sending too fast; wait a moment.");
    return;
  }
  if (state === 'joining') {
    abandon(`Circle couldn't put you in the lobby: ${message}`);
    return;
  }
  setStatus(message);
}

// ---------- waiting, rounds and the break between them ----------

function onWaiting(ev) {
  // A count sent just before we were paired is stale once we are in a room.
  if (!['connecting', 'joining', 'waiting', 'break'].includes(state)) return;
  clearTimeout(answerTimer);
  joinRetries = 0;
  if (ev.group) session.group = ev.group;
  if (typeof ev.waiting === 'number') lastCount = ev.waiting;
  keepWaiting();
  if (state === 'break') {
    // In the lobby after the new round paired everyone it could: we sit this one out.
    if (round && round.number > breakNumber) sittingOut = true;
    breakText();
    return;
  }
  const fresh = state !== 'waiting';
  state = 'waiting';
  if (fresh || screen !== 'waiting') showWaiting(false, lastCount);
  else setText($('waiting-count'), countText(lastCount));
}

function countText(count) {
  if (typeof count !== 'number') return "You'll be paired as soon as someone is free.";
  const others = Math.max(0, count - 1);
  return others === 0
    ? "You're the only one in the lobby right now. Invite someone with the link below."
    : `${others} other ${others === 1 ? 'person is' : 'people are'} in the lobby. You'll be paired as soon as someone new is free.`;
}

function showWaiting(connecting, count) {
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

$('waiting-cancel').addEventListener('click', () => {
  closeSocket();
  openJoin(session ? session.code : '');
});

// An ISO time from the server as a time on our clock.
function serverTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : t - skewMs;
}

function onRound(ev) {
  const n = Number(ev.number) || 0;
  if (n <= 0) {
    round = null;
    if (room && state === 'chat') room.endsAt = 0;
    if (state === 'break') { state = 'waiting'; showWaiting(false, lastCount); }
    tick();
    return;
  }
  const left = Number(ev.seconds_left);
  const endsAt = Number.isFinite(left) ? Date.now() + left * 1000 : serverTime(ev.ends_at);
  const at = Date.parse(ev.ends_at);
  if (Number.isFinite(left) && !Number.isNaN(at)) skewMs = at - endsAt; // seconds_left beats our clock
  round = { number: n, minutes: Number(ev.minutes) || 0, endsAt };
  if (state === 'break') breakText();
  tick();
}

let breakNumber = 0;   // the round whose end put us on the break
let sittingOut = false; // the next round began without a partner for us
function roundOver(n) {
  endRoom();
  state = 'break';
  breakNumber = n;
  sittingOut = false;
  lastCount = null;
  breakText();
  keepWaiting();
  show('break');
}

function breakText() {
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
    if (typeof lastCount === 'number' && lastCount > 1) text += ` ${lastCount} people are in the lobby.`;
  }
  setText($('break-title'), title);
  setText($('break-text'), text);
}

$('break-exit').addEventListener('click', () => {
  closeSocket();
  openJoin(session ? session.code : '');
});

// Countdowns, and how long block/report stay offered: once a second.
function tick() {
  const now = Date.now();
  const r = round && round.endsAt > 0 ? round : null;
  const roundLine = r ? (r.endsAt > now ? `Round ${r.number} · ${clock(r.endsAt - now)} left` : `Round ${r.number} is ending…`) : '';
  $('waiting-round').hidden = !r;
  setText($('waiting-round-time'), r ? `${roundLine}.` : '');
  const b = $('break-round');
  b.hidden = !r || r.number <= breakNumber;
  setText(b, b.hidden ? '' : roundLine);
  const c = $('chat-timer');
  const ends = room && (state === 'chat' || state === 'resuming') ? room.endsAt || (r ? r.endsAt : 0) : 0;
  c.hidden = !ends;
  setText(c, !ends ? '' : ends > now
    ? `${r ? `Round ${r.number} · ` : ''}${clock(ends - now)} left`
    : 'Time is up…');
  updateSafety();
  if (screen === 'organizer') orgTick();
}
setInterval(tick, 1000);

// ---------- chat ----------

const log = $('log');
const list = $('log-list');
const msg = $('msg');
let lastTypingSent = 0;
let typingTimer = 0;

function startRoomKeepalive() {
  clearInterval(roomTimer);
  roomTimer = setInterval(() => {
    if (state === 'chat' && Date.now() - lastSentAt > ROOM_KEEPALIVE_MS) send({ action: 'message', room: room.id, typing: false });
  }, 30_000);
}

function startChat(ev) {
  state = 'chat';
  room = {
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
  $('chat-title').textContent = `Chatting with ${room.partner.name}`;
  list.replaceChildren();
  note(`You're now chatting with ${room.partner.name} from ${session.group ? session.group.name : 'this circle'}. Say hi!`);
  $('prompt-text').textContent = room.prompt;
  $('prompt').hidden = !room.prompt;
  banner('');
  hideTyping();
  $('ended').hidden = true;
  $('composer').hidden = false;
  $('chat-live-actions').hidden = false;
  msg.value = '';
  autosize();
  lastTypingSent = 0;
  startRoomKeepalive();
  const wasChat = screen === 'chat';
  show('chat');
  if (wasChat) msg.focus();
  alertMatch(room.partner.name);
}

// The room is over for us: what ending it on the chat screen and a round's end share.
function endRoom() {
  clearInterval(roomTimer);
  clearTimeout(awayTimer);
  hideTyping();
  banner('');
  for (const p of list.querySelectorAll('.msg.pending')) markFailed(p);
  if (room) { room.endedAt = Date.now(); room.away = false; }
}

function endChat(text) {
  state = 'ended';
  endRoom();
  note(text);
  $('chat-title').textContent = `Chat with ${room.partner.name} ended`;
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

function partnerAway(ev) {
  const g = Number(ev.grace_s);
  if (Number.isFinite(g) && g > 0) graceS = g;
  room.away = true;
  hideTyping();
  if (state === 'chat') banner(`${room.partner.name} is reconnecting…`);
  updateComposer();
  // The server ends the room within the grace plus 5 s; should that word never come, end it here.
  clearTimeout(awayTimer);
  awayTimer = setTimeout(() => {
    if (state === 'chat' && room && room.away) endChat(`${room.partner.name} disconnected.`);
  }, (graceS + 15) * 1000);
}

function partnerBack() {
  room.away = false;
  clearTimeout(awayTimer);
  if (state === 'chat') {
    banner('');
    note(`${room.partner.name} is back.`);
  }
  updateComposer();
}

function nearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
}

function scrollDown(force) {
  if (force || nearBottom()) log.scrollTop = log.scrollHeight;
}

function note(text) {
  const stick = nearBottom();
  list.append(el('li', 'note', text));
  scrollDown(stick);
}

function bubble(text, mine, sentAt, id) {
  const stick = nearBottom();
  const li = el('li', `msg ${mine ? 'mine' : 'theirs'}`);
  if (id) li.dataset.id = id;
  const who = el('span', 'visually-hidden', mine ? 'You: ' : `${room.partner.name}: `);
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

// Both sides' delivered messages, for a report's excerpt.
function remember(from, text, sentAt) {
  room.msgs.push({ from, text, sent_at: sentAt });
  if (room.msgs.length > 50) room.msgs.splice(0, room.msgs.length - 50);
}

function onMessage(ev) {
  if (!room || ev.room !== room.id || state !== 'chat') return;
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
  $('typing').textContent = `${room.partner.name} is typing…`;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(hideTyping, TYPING_SHOW_MS);
}

function hideTyping() {
  clearTimeout(typingTimer);
  $('typing').textContent = '';
}

const canSend = () => state === 'chat' && room && !room.away;

function updateComposer() {
  $('send-btn').disabled = !msg.value.trim() || !canSend();
  $('next-btn').disabled = state !== 'chat';
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
  if (!canSend()) return;
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
  endRoom();
  room = null;
  state = 'joining';
  lastJoinAt = Date.now();
  // The server answers the requeue with `waiting` or a new `join_room`.
  clearTimeout(answerTimer);
  answerTimer = setTimeout(() => { if (state === 'joining') abandon("Circle didn't answer."); }, ANSWER_TIMEOUT_MS);
  showWaiting(false);
  $('waiting-title').textContent = 'Looking for someone new…';
});

$('leave-btn').addEventListener('click', () => {
  if (state === 'resuming') {
    // No socket to say it on: the server ends the seat when the grace runs out.
    const s = ws;
    ws = null;
    if (s) s.close();
    stopTimers();
    endChat('You left the chat.');
    return;
  }
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

// ---------- block and report ----------

let safetyPending = null; // { kind: 'block' | 'report', room, timer }

// Block and report reach the current room, or the last one for 10 minutes after it ended.
function safetyOpen(r) {
  if (!r || r.safety || !ws || ws.readyState !== WebSocket.OPEN) return false;
  return r.endedAt ? Date.now() - r.endedAt < SAFETY_WINDOW_MS : state === 'chat';
}

function updateSafety() {
  const open = safetyOpen(room) || !!safetyPending;
  const shown = open || (state === 'resuming' && room && !room.safety);
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

function onSafetyDone(ev) {
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
  if (room === r && state === 'chat') {
    endChat(text);
  } else if (room === r && screen === 'chat') {
    note(text);
    $('ended-text').textContent = text;
    $('again-btn').focus();
  } else if (room === r && screen === 'break') {
    $('break-safety-text').textContent = text;
    $('break-exit').focus();
  } else {
    setStatus(text);
  }
  updateSafety();
}

async function blockPartner() {
  const r = room;
  if (!safetyOpen(r)) return;
  const name = r.partner.name;
  const ok = await confirmBox(`Block ${name}?`,
    `The chat ends and you won't be paired with ${name} again in this circle. ${name} isn't told that you blocked them: they only see that the chat ended.`,
    `Block ${name}`);
  if (!ok) return;
  if (!safetySend('block', r, { action: 'block', room: r.id })) setStatus("You're not connected to Circle, so the block couldn't be sent.");
}

let reportRoom = null;
function openReport() {
  const r = room;
  if (!safetyOpen(r)) return;
  reportRoom = r;
  const name = r.partner.name;
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
$('report-btn').addEventListener('click', openReport);
$('break-report-btn').addEventListener('click', openReport);
$('block-btn').addEventListener('click', blockPartner);
$('break-block-btn').addEventListener('click', blockPartner);

// ---------- "sound on match": a tone, and the title flashing while the tab is hidden ----------

let audio = null;
let titleTimer = 0;
const notifyOn = () => store.get('circle.notify') === 'on';

// Browsers let a page make sound only after a click: make the context then.
function primeAudio() {
  if (!notifyOn()) return;
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
  } catch {
    audio = null;
  }
}

function tone() {
  primeAudio();
  if (!audio) return;
  const t0 = audio.currentTime + 0.02;
  [660, 880].forEach((hz, i) => {
    const o = audio.createOscillator();
    const g = audio.createGain();
    const t = t0 + i * 0.16;
    o.type = 'sine';
    o.frequency.value = hz;
    g.gain.setValueAtTime(0.0001, t);
    g.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, t + 0.15);
    o.connect(g).connect(audio.destination);
    o.start(t);
    o.stop(t + 0.16);
  });
}

function stopFlash() {
  clearInterval(titleTimer);
  titleTimer = 0;
  document.title = TITLE;
}

function alertMatch(name) {
  if (!notifyOn()) return;
  tone();
  if (!document.hidden) return;
  const text = `Paired with ${name} · ${TITLE}`;
  let on = true;
  document.title = text;
  clearInterval(titleTimer);
  titleTimer = setInterval(() => { on = !on; document.title = on ? text : TITLE; }, 1000);
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden) return;
  stopFlash();
  if (screen === 'organizer') orgRefresh();
});

$('notify').checked = notifyOn();
$('notify').addEventListener('change', (e) => {
  store.set('circle.notify', e.target.checked ? 'on' : 'off');
  primeAudio();
});

// ---------- the organiser's view (#organizer=KEY; the key goes only in a header) ----------

const org = { key: '', code: '', circle: null, round: null, timer: 0, busy: false, dirty: false, removed: new Set(), reportsKey: '', skew: 0 };

function orgKeyFromHash() {
  const m = /^#organizer=([^&]*)/.exec(location.hash);
  if (!m) return null;
  try { return decodeURIComponent(m[1]); } catch { return ''; }
}

function orgError(text) {
  $('org-error').textContent = text;
  $('org-error').hidden = !text;
}

function orgNote(text, offerRotate = false) {
  $('org-note').textContent = text;
  $('org-rotate-now').hidden = !offerRotate;
}

function stopOrganizer() {
  clearInterval(org.timer);
  org.timer = 0;
}

function openOrganizer(key) {
  mountOrganizer();
  if (state !== 'idle') closeSocket();
  Object.assign(org, { key, code: '', circle: null, round: null, dirty: false, reportsKey: '' });
  $('org-body').hidden = true;
  $('org-title').textContent = 'Organiser view';
  orgError('');
  orgNote('');
  show('organizer');
  if (!key) { orgFail(401); return; }
  orgNote('Loading your circle…');
  orgRefresh(true);
  org.timer = setInterval(() => { if (!document.hidden) orgRefresh(); }, ORG_REFRESH_MS);
}

// A 401, 403 or 404 ends the view; anything else is said and retried.
function orgFail(status, data) {
  const fatal = {
    401: 'This organiser link has no key. Open the whole link you were given when you created the circle.',
    403: "This organiser link doesn't match any circle: its key is wrong or incomplete. Check that you copied the whole link.",
    404: "This circle doesn't exist any more: it was closed, or it expired (circles last 3 days).",
  }[status];
  if (fatal) {
    stopOrganizer();
    $('org-body').hidden = true;
    orgNote('');
    orgError(fatal);
    return true;
  }
  orgError((data && data.message) || `Circle couldn't answer (HTTP ${status}). Trying again shortly.`);
  return false;
}

async function orgRefresh(first) {
  if (org.busy || screen !== 'organizer' || (!org.timer && !first)) return;
  org.busy = true;
  try {
    let r = await api(org.code ? `/groups/${enc(org.code)}/organizer` : '/organizer', { key: org.key });
    // The code may have been changed from another tab: find the circle by the key again.
    if (r.status === 404 && org.code) r = await api('/organizer', { key: org.key });
    if (screen !== 'organizer') return;
    if (r.status === 200 && r.data && r.data.circle) {
      if (first) orgNote('');
      orgError('');
      renderOrg(r.data, r.date);
    } else {
      orgFail(r.status, r.data);
    }
  } catch {
    orgError("Couldn't reach Circle. Trying again every few seconds…");
  } finally {
    org.busy = false;
  }
}

// An organiser request on the current code; a 401/403/404 ends the view.
async function orgCall(method, path, body) {
  try {
    const r = await api(`/groups/${enc(org.code)}${path}`, { method, body, key: org.key });
    if ([401, 403, 404].includes(r.status)) orgFail(r.status);
    return r;
  } catch {
    orgError("Couldn't reach Circle. Check your connection and try again.");
    return { status: 0, data: null };
  }
}

function showCircle(c) {
  org.circle = c;
  if (c.access_code) org.code = normalizeCode(c.access_code);
  setText($('org-title'), `Organise “${c.name}”`);
  setText($('org-name'), c.name);
  setText($('org-desc'), c.description || '');
  setText($('org-code'), formatCode(org.code));
  const link = inviteLink(org.code);
  if ($('org-link').value !== link) $('org-link').value = link;
  setText($('org-expires'), c.expires_at ? `The circle closes by itself on ${dateTimeText(c.expires_at)}.` : '');
  if (!org.dirty) {
    $('e-name').value = c.name || '';
    $('e-desc').value = c.description || '';
    $('e-rules').value = (c.rules || []).join('\n');
    $('e-prompts').value = (c.prompts || []).join('\n');
  }
}

function renderOrg(d, date) {
  const t = Date.parse(date || '');
  if (!Number.isNaN(t)) org.skew = t - Date.now();
  showCircle(d.circle);
  for (const k of ['waiting', 'chatting', 'chats', 'members']) setText($(`st-${k}`), String(d[k] ?? '–'));
  setText($('org-updated'), `Updated at ${new Date().toLocaleTimeString()}; refreshes every 5 seconds while this tab is open.`);
  showRound(d.round);
  renderReports(Array.isArray(d.reports) ? d.reports : []);
  $('org-body').hidden = false;
}

function showRound(r) {
  org.round = r && r.active && r.number > 0
    ? { number: r.number, minutes: r.minutes, endsAt: Date.parse(r.ends_at) - org.skew }
    : null;
  $('rounds-form').hidden = !!org.round;
  $('rounds-stop').hidden = !org.round;
  orgTick();
}

function orgTick() {
  const r = org.round;
  const left = r ? r.endsAt - Date.now() : 0;
  setText($('org-round'), !r
    ? 'No timed rounds are running: people are paired as they arrive. Timed rounds pair everyone present at once, then again with someone new at the end of each round.'
    : left > 0
      ? `Round ${r.number} of ${r.minutes}-minute rounds: ${clock(left)} left.`
      : `Round ${r.number} is over; the next one is starting…`);
}

function renderReports(reports) {
  const key = JSON.stringify([reports.map((r) => r.id), [...org.removed]]);
  if (key === org.reportsKey) return; // keep focus and scroll where they are
  org.reportsKey = key;
  $('org-reports').replaceChildren(...reports.map(reportItem));
  $('org-no-reports').hidden = reports.length > 0;
  $('org-reports-h').textContent = reports.length ? `Reports (${reports.length})` : 'Reports';
}

function reportItem(r) {
  const reporter = (r.reporter && r.reporter.name) || 'Someone';
  const reported = (r.reported && r.reported.name) || 'someone';
  const li = el('li', 'card report');
  const when = el('time', 'hint', dateTimeText(r.at));
  when.dateTime = r.at || '';
  li.append(el('h3', 'report-h', `${reporter} reported ${reported}`), when, el('p', 'pre reason', r.reason || ''));
  const excerpt = Array.isArray(r.excerpt) ? r.excerpt : [];
  if (excerpt.length) {
    li.append(el('p', 'ex-h', `Messages ${reporter} included (their account):`));
    const ol = el('ol', 'excerpt');
    for (const m of excerpt) {
      const item = el('li', m.from === 'me' ? 'ex-me' : 'ex-partner');
      const time = el('time', '', timeText(m.sent_at));
      time.dateTime = m.sent_at || '';
      item.append(el('span', 'who', m.from === 'me' ? reporter : reported), ' ', time, el('p', 'pre', m.text || ''));
      ol.append(item);
    }
    li.append(ol);
  } else {
    li.append(el('p', 'hint', 'No messages were included.'));
  }
  const id = r.reported && r.reported.member_id;
  if (id && org.removed.has(id)) {
    li.append(el('p', 'removed', `${reported} was removed from the circle.`));
  } else if (id) {
    const b = el('button', 'danger small', `Remove ${reported}`);
    b.type = 'button';
    b.addEventListener('click', () => removeMember(id, reported));
    li.append(b);
  }
  return li;
}

async function removeMember(memberId, name) {
  const ok = await confirmBox(`Remove ${name} from the circle?`,
    `${name}'s chat ends now and ${name} can't join this circle again from that browser. Someone with the code could still join from a new browser or device: you can change the code next.`,
    `Remove ${name}`);
  if (!ok) return;
  const r = await orgCall('POST', '/remove', { member_id: memberId });
  if (r.status !== 200) {
    if (r.status) orgError((r.data && r.data.message) || `${name} couldn't be removed (HTTP ${r.status}).`);
    return;
  }
  org.removed.add(memberId);
  orgRefresh();
  orgNote(`${name} was removed${r.data && r.data.closed ? ' and their connection closed' : ''}, and can't join again from that browser. A new browser could still join with the code: change the code if you want to be sure ${name} stays out.`, true);
  $('org-rotate-now').focus();
}

async function rotateCode(confirmFirst) {
  if (confirmFirst && !await confirmBox('Change the access code?',
    'The current code and invite links stop letting anyone in at once. People already in the circle stay, and this organiser link keeps working.',
    'Change the code')) return;
  const r = await orgCall('POST', '/code');
  if (r.status !== 200 || !r.data || !r.data.access_code) {
    if (r.status && r.status !== 401 && r.status !== 403 && r.status !== 404) orgError((r.data && r.data.message) || `The code couldn't be changed (HTTP ${r.status}).`);
    return;
  }
  showCircle({ ...org.circle, access_code: r.data.access_code });
  orgNote(`The new code is ${formatCode(org.code)}. Share it, or the new invite link, with the people you want in; the old code no longer lets anyone in.`);
  $('org-code').scrollIntoView({ block: 'center' });
}

const lines = (text) => text.split('\n').map((l) => l.trim()).filter(Boolean);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Puts the organiser view in the page (once) and wires it.
function mountOrganizer() {
  if ($('screen-organizer')) return;
  $('main').insertBefore($('organizer-tpl').content.cloneNode(true), $('report-dialog'));
  $('org-rotate-now').addEventListener('click', () => rotateCode(false));
  $('rotate-btn').addEventListener('click', () => rotateCode(true));

  $('rounds-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('round-min');
    const minutes = Number(input.value);
    if (!Number.isInteger(minutes) || minutes < 2 || minutes > 30) {
      $('round-min-err').textContent = 'Rounds last 2 to 30 whole minutes.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    $('round-min-err').textContent = '';
    input.removeAttribute('aria-invalid');
    const r = await orgCall('POST', '/rounds', { minutes });
    if (r.status === 200) {
      showRound(r.data && r.data.round);
      orgNote(`Timed rounds started: everyone present is being paired for round ${org.round ? org.round.number : 1}.`);
      $('rounds-stop').focus();
    } else if (r.status === 400) {
      $('round-min-err').textContent = bare(r.data && r.data.message);
      input.setAttribute('aria-invalid', 'true');
    } else if (r.status) {
      orgError((r.data && r.data.message) || `Rounds couldn't start (HTTP ${r.status}).`);
    }
  });

  $('rounds-stop').addEventListener('click', async () => {
    const r = await orgCall('DELETE', '/rounds');
    if (r.status === 200) {
      showRound(r.data && r.data.round);
      orgNote('Timed rounds stopped: people are paired as they arrive again.');
      $('round-min').focus();
    } else if (r.status) {
      orgError((r.data && r.data.message) || `Rounds couldn't be stopped (HTTP ${r.status}).`);
    }
  });

  clearOnInput($('edit-form'), (i) => $(`${i.id}-err`));
  $('edit-form').addEventListener('input', () => { org.dirty = true; });

  $('edit-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    clearErrors(form);
    const c = org.circle || {};
    const want = { name: $('e-name').value, description: $('e-desc').value, rules: lines($('e-rules').value), prompts: lines($('e-prompts').value) };
    const body = {};
    if (want.name !== c.name) body.name = want.name;
    if (want.description !== c.description) body.description = want.description;
    if (!same(want.rules, c.rules || [])) body.rules = want.rules;
    if (!same(want.prompts, c.prompts || [])) body.prompts = want.prompts;
    if (!Object.keys(body).length) { org.dirty = false; orgNote('Nothing to save: no changes.'); return; }
    const button = $('edit-save');
    button.disabled = true;
    const r = await orgCall('PATCH', '', body);
    button.disabled = false;
    if (r.status === 200 && r.data) {
      org.dirty = false;
      showCircle(r.data.circle || r.data);
      orgNote('Saved. New chats use the changes.');
    } else if (r.status === 400 && r.data) {
      const m = /^(name|description|rules|prompts)(?:\[(\d+)\])?$/.exec(r.data.field || '');
      const input = m ? $({ name: 'e-name', description: 'e-desc', rules: 'e-rules', prompts: 'e-prompts' }[m[1]]) : null;
      const label = m ? (m[2] !== undefined ? `${m[1] === 'rules' ? 'Rule' : 'Icebreaker'} ${+m[2] + 1}` : { name: 'Name', description: 'Description', rules: 'Rules', prompts: 'Icebreakers' }[m[1]]) : '';
      if (input) {
        $(`${input.id}-err`).textContent = `${label} ${bare(r.data.message)}`;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      } else {
        $('e-form-err').textContent = r.data.message || "The changes couldn't be saved.";
      }
    } else if (r.status && ![401, 403, 404].includes(r.status)) {
      $('e-form-err').textContent = `The changes couldn't be saved (HTTP ${r.status}). Try again.`;
    }
  });

  $('close-btn').addEventListener('click', async () => {
    const name = org.circle ? org.circle.name : 'this circle';
    if (!await confirmBox(`Close “${name}”?`,
      'Everyone in it is disconnected now, every chat ends, and the circle and its reports are deleted. This can’t be undone.',
      'Close the circle')) return;
    const r = await orgCall('DELETE', '');
    if (r.status === 204 || r.status === 200) {
      stopOrganizer();
      $('org-body').hidden = true;
      $('org-title').textContent = `“${name}” is closed`;
      orgNote('The circle is closed and deleted. Everyone in it was told.');
      $('org-title').focus();
    } else if (r.status && ![401, 403, 404].includes(r.status)) {
      orgError((r.data && r.data.message) || `The circle couldn't be closed (HTTP ${r.status}).`);
    }
  });

  $('org-copy-code').addEventListener('click', () => copy(formatCode(org.code), $('org-copy-code')));
  $('org-copy-link').addEventListener('click', () => copy($('org-link').value, $('org-copy-link'), $('org-link')));
}

// ---------- wiring ----------

$('go-join').addEventListener('click', () => openJoin(''));
$('go-create').addEventListener('click', openCreate);
$('add-rule').addEventListener('click', () => addRule());
$('copy-code').addEventListener('click', () => copy(formatCode(normalizeCode(created.access_code)), $('copy-code')));
$('copy-link').addEventListener('click', () => copy($('created-link').value, $('copy-link'), $('created-link')));
$('copy-org-link').addEventListener('click', () => copy($('created-org-link').value, $('copy-org-link'), $('created-org-link')));
$('copy-waiting-link').addEventListener('click', () => copy($('waiting-link').value, $('copy-waiting-link'), $('waiting-link')));
$('created-join').addEventListener('click', () => openJoin(created.access_code));
for (const b of document.querySelectorAll('[data-go]')) {
  b.addEventListener('click', () => {
    if (b.dataset.go !== 'join') history.replaceState(null, '', location.pathname);
    go(b.dataset.go);
  });
}

function route() {
  const key = orgKeyFromHash();
  if (key === null) return false;
  openOrganizer(key);
  return true;
}

window.addEventListener('hashchange', () => {
  if (!route() && screen === 'organizer') show('home');
});

if (!route()) {
  const initial = new URLSearchParams(location.search).get('code');
  if (initial) openJoin(initial);
  else show('home');
}
