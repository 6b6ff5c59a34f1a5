// The organiser's insight: the circle's activity over time (joins and chats
// per 5 minutes) as an accessible SVG chart with a table beside it, the
// feedback counts, "Download CSV" (fetched with the key in a header, saved
// from a Blob: the key never goes in a URL), and the announcement form.
// Built with DOM APIs into the organiser view; organizer.js calls renderInsight.

import { $, el, setText } from '../lib/dom.js';
import { configReady } from '../lib/api.js';
import { enc, timeText } from '../lib/format.js';

const SVG = 'http://www.w3.org/2000/svg';
const SHOWN = 72; // buckets in the chart: the last 6 hours of activity
const H = 180;
const MIN_SLOTS = 12; // an hour: a few buckets still draw as narrow bars
const PAD = { l: 34, r: 8, t: 10, b: 26 };
const SERIES = [['joins', 'Joins', 'bar-j'], ['chats', 'Chats', 'bar-c']];

let ctx = null;
let lastKey = '';
let shown = [];

const svg = (tag, attrs = {}, text) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
};

const num = (v) => Math.max(0, Number(v) || 0);
const busy = (b) => num(b.joins) + num(b.chats) + num(b.good) + num(b.meh) > 0;

// The buckets worth drawing: from the first with a count to the last, at most SHOWN.
function span(rows) {
  const first = rows.findIndex(busy);
  if (first < 0) return [];
  let last = rows.length - 1;
  while (last > first && !busy(rows[last])) last -= 1;
  return rows.slice(Math.max(first, last + 1 - SHOWN), last + 1);
}

function chart(rows, W) {
  const top = Math.max(1, ...rows.flatMap((b) => [num(b.joins), num(b.chats)]));
  const total = (k) => rows.reduce((s, b) => s + num(b[k]), 0);
  const from = timeText(rows[0].at);
  const slots = Math.max(rows.length, MIN_SLOTS);
  // The axis spans `slots` buckets from the first: at least an hour.
  const to = timeText(new Date(Date.parse(rows[0].at) + slots * 300_000).toISOString());
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'act-title act-desc', class: 'act-chart' });
  s.append(
    svg('title', { id: 'act-title' }, 'Joins and chats per 5 minutes'),
    svg('desc', { id: 'act-desc' }, `Five-minute periods from ${from} to ${timeText(rows[rows.length - 1].at)}: ${total('joins')} joins and ${total('chats')} chats; the busiest period had ${top}. The table below has every figure.`),
  );
  const plotW = W - PAD.l - PAD.r;
  const plotH = H - PAD.t - PAD.b;
  const y = (v) => PAD.t + plotH - (v / top) * plotH;
  const slot = plotW / slots;
  s.append(
    svg('line', { x1: PAD.l, x2: W - PAD.r, y1: y(0), y2: y(0), class: 'act-axis' }),
    svg('text', { x: PAD.l - 6, y: y(top) + 4, 'text-anchor': 'end', class: 'act-label' }, String(top)),
    svg('text', { x: PAD.l - 6, y: y(0) + 4, 'text-anchor': 'end', class: 'act-label' }, '0'),
    svg('text', { x: PAD.l, y: H - 6, class: 'act-label' }, from),
    svg('text', { x: W - PAD.r, y: H - 6, 'text-anchor': 'end', class: 'act-label' }, to),
  );
  const bar = Math.max(1, (slot * 0.8) / SERIES.length);
  rows.forEach((b, i) => {
    SERIES.forEach(([k, , cls], j) => {
      const v = num(b[k]);
      if (!v) return;
      s.append(svg('rect', { x: PAD.l + i * slot + slot * 0.1 + j * bar, y: y(v), width: bar, height: y(0) - y(v), class: cls }));
    });
  });
  return s;
}

function table(rows) {
  const t = el('table', 'act-table');
  t.append(el('caption', '', 'Activity per 5 minutes (periods with activity)'));
  const head = el('tr');
  for (const h of ['From', 'Joins', 'Chats', 'Good', 'Meh']) {
    const th = el('th', '', h);
    th.scope = 'col';
    head.append(th);
  }
  const thead = el('thead');
  thead.append(head);
  const body = el('tbody');
  for (const b of rows.filter(busy)) {
    const tr = el('tr');
    const at = el('th', '', timeText(b.at));
    at.scope = 'row';
    tr.append(at, ...['joins', 'chats', 'good', 'meh'].map((k) => el('td', '', String(num(b[k])))));
    body.append(tr);
  }
  t.append(thead, body);
  return t;
}

async function downloadCsv() {
  const button = $('act-csv');
  setText($('act-csv-note'), '');
  try {
    const { http_url: base } = await configReady;
    const r = await fetch(`${base}/groups/${enc(ctx.code)}/activity.csv`, {
      headers: { authorization: `Bearer ${ctx.key}` }, cache: 'no-store',
    });
    if (!r.ok) throw new Error(String(r.status));
    const url = URL.createObjectURL(await r.blob());
    const a = el('a');
    a.href = url;
    a.download = 'circle-activity.csv';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    setText($('act-csv-note'), 'Downloaded circle-activity.csv.');
  } catch {
    setText($('act-csv-note'), "The CSV couldn't be downloaded. Try again.");
  }
  button.focus();
}

async function announce(e) {
  e.preventDefault();
  const input = $('ann-text');
  const err = $('ann-text-err');
  const text = input.value.trim();
  err.textContent = '';
  input.removeAttribute('aria-invalid');
  setText($('ann-note'), '');
  if (!text) {
    err.textContent = 'Write something to send.';
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  $('ann-send').disabled = true;
  const r = await ctx.call('POST', '/announce', { text });
  $('ann-send').disabled = false;
  if (r.status === 200) {
    input.value = '';
    setText($('ann-count'), '0/280');
    const n = Number(r.data && r.data.sent) || 0;
    setText($('ann-note'), `Sent to ${n} ${n === 1 ? 'person' : 'people'} connected now.`);
  } else if (r.status === 429) {
    setText($('ann-note'), 'One announcement every 10 seconds: try again in a moment.');
  } else if (r.status === 400) {
    err.textContent = (r.data && r.data.message) || 'That text can’t be sent.';
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  } else if (r.status) {
    setText($('ann-note'), `The announcement couldn't be sent (HTTP ${r.status}).`);
  }
}

function mount() {
  if ($('org-activity')) return;
  const part = el('section', 'org-part');
  part.id = 'org-activity';
  part.setAttribute('aria-labelledby', 'org-act-h');
  const h = el('h2', '', 'Activity');
  h.id = 'org-act-h';
  const fb = el('p', '');
  fb.id = 'act-feedback';
  const fig = el('div', 'act-figure');
  fig.id = 'act-figure';
  const legend = el('ul', 'act-legend');
  for (const [, label, cls] of SERIES) {
    const li = el('li');
    li.append(el('span', `swatch ${cls}`), label);
    legend.append(li);
  }
  const details = el('details', 'act-details');
  details.append(el('summary', '', 'Show as a table'));
  details.id = 'act-details';
  const csv = el('button', '', 'Download CSV');
  csv.type = 'button';
  csv.id = 'act-csv';
  csv.addEventListener('click', downloadCsv);
  const note = el('p', 'hint');
  note.id = 'act-csv-note';
  note.setAttribute('role', 'status');
  const actions = el('div', 'actions');
  actions.append(csv);
  part.append(h, fb, fig, legend, details, actions, note, announceForm());
  if ('ResizeObserver' in window) new ResizeObserver(draw).observe(fig);
  $('org-stats-h').parentElement.after(part);
}

function announceForm() {
  const form = el('form', 'announce-form');
  form.id = 'announce-form';
  form.noValidate = true;
  const h = el('h3', '', 'Announce to everyone');
  const field = el('div', 'field');
  const label = el('label', '', 'Message to everyone connected now ');
  label.htmlFor = 'ann-text';
  const count = el('span', 'hint', '0/280');
  count.id = 'ann-count';
  label.append(count);
  const input = el('textarea');
  input.id = 'ann-text';
  input.rows = 2;
  input.maxLength = 280;
  input.setAttribute('aria-describedby', 'ann-text-err ann-count');
  input.addEventListener('input', () => setText(count, `${input.value.length}/280`));
  const err = el('p', 'err');
  err.id = 'ann-text-err';
  field.append(label, input, err);
  const send = el('button', 'primary', 'Send announcement');
  send.type = 'submit';
  send.id = 'ann-send';
  const note = el('p', 'hint');
  note.id = 'ann-note';
  note.setAttribute('role', 'status');
  form.append(h, el('p', 'hint', 'It shows as a banner on everyone’s page. One every 10 seconds.'), field, send, note);
  form.addEventListener('submit', announce);
  return form;
}

// d: the organiser view; c: { key, code, call(method, path, body) }.
export function renderInsight(d, c) {
  ctx = c;
  mount();
  const fb = d.feedback || {};
  const good = num(fb.good);
  const meh = num(fb.meh);
  setText($('act-feedback'), good + meh
    ? `Feedback so far: ${good} good ${good === 1 ? 'chat' : 'chats'}, ${meh} meh. Only these counts are kept, never who rated whom.`
    : 'No feedback yet. Only counts are kept, never who rated whom.');
  shown = span(Array.isArray(d.activity) ? d.activity : []);
  draw();
}

// Drawn at the width it has (again when that changes), so its labels keep
// their size on a phone.
function draw() {
  const fig = $('act-figure');
  if (!fig) return;
  const width = Math.round(Math.max(300, Math.min(900, fig.clientWidth || 600)));
  const key = JSON.stringify([shown, width]);
  if (key === lastKey) return;
  lastKey = key;
  if (!shown.length) {
    fig.replaceChildren(el('p', 'hint', 'Nothing yet: joins and chats show here in 5-minute steps.'));
  } else {
    fig.replaceChildren(chart(shown, width));
  }
  const details = $('act-details');
  details.replaceChildren(details.firstChild, table(shown));
}
