// The organiser's reports: the count per reported member (so no flood hides
// anyone), and the reports a page at a time ("More reports" follows
// `reports_next` through GET /groups/{code}/reports?after=…).

import { $, el } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { dateTimeText, enc, timeText } from '../lib/format.js';
import { who } from './roster.js';

const view = { key: '', first: [], more: [], next: null, loading: false, ctx: null };

// Draws the view's first page (refreshed every few seconds) and the pages
// already fetched after it. `ctx`: { code, orgKey, removed, removeMember }.
export function renderReports(d, ctx) {
  view.ctx = ctx;
  view.first = Array.isArray(d.reports) ? d.reports : [];
  if (!view.more.length) view.next = d.reports_next || null;
  renderCounts(Array.isArray(d.reported_counts) ? d.reported_counts : []);
  draw();
}

// A new organiser link: forget the pages fetched for the last one.
export function resetReports() {
  Object.assign(view, { key: '', first: [], more: [], next: null, loading: false });
}

function draw() {
  const seen = new Set();
  const all = [...view.first, ...view.more].filter((r) => !seen.has(r.id) && seen.add(r.id));
  const { removed } = view.ctx;
  const key = JSON.stringify([all.map((r) => r.id), [...removed], view.next, view.loading]);
  if (key !== view.key) {
    view.key = key; // else keep focus and scroll where they are
    $('org-reports').replaceChildren(...all.map(reportItem));
  }
  $('org-no-reports').hidden = all.length > 0;
  const more = $('org-reports-more');
  more.hidden = !view.next;
  more.disabled = view.loading;
  more.textContent = view.loading ? 'Loading…' : 'More reports';
}

function renderCounts(counts) {
  const total = counts.reduce((n, c) => n + (Number(c.reports) || 0), 0);
  $('org-reports-h').textContent = total ? `Reports (${total})` : 'Reports';
  $('org-counts-wrap').hidden = counts.length === 0;
  const { removed, removeMember } = view.ctx;
  $('org-counts').replaceChildren(...counts.map((c) => {
    const li = el('li');
    const n = Number(c.reports) || 0;
    li.append(who(c.name || 'someone', c.member_id), ` · ${n} ${n === 1 ? 'report' : 'reports'} `);
    if (c.member_id && !removed.has(c.member_id)) {
      const b = el('button', 'danger small', 'Remove');
      b.type = 'button';
      b.append(el('span', 'visually-hidden', ` reported member ${c.name || ''}`));
      b.addEventListener('click', () => removeMember(c.member_id, c.name || 'this member'));
      li.append(b);
    } else if (c.member_id) {
      li.append(el('span', 'removed', 'removed'));
    }
    return li;
  }));
}

async function more() {
  const { code, orgKey } = view.ctx;
  if (!view.next || view.loading) return;
  view.loading = true;
  draw();
  const r = await api(`/groups/${enc(code)}/reports?after=${encodeURIComponent(view.next)}`, { key: orgKey });
  view.loading = false;
  if (r.status === 200 && r.data) {
    view.more.push(...(Array.isArray(r.data.reports) ? r.data.reports : []));
    view.next = r.data.reports_next || null;
  }
  draw();
}

function reportItem(r) {
  const reporter = (r.reporter && r.reporter.name) || 'Someone';
  const reported = (r.reported && r.reported.name) || 'someone';
  const li = el('li', 'card report');
  const when = el('time', 'hint', dateTimeText(r.at));
  when.dateTime = r.at || '';
  const h = el('h3', 'report-h');
  h.append(el('bdi', '', reporter), ' reported ', el('bdi', '', reported));
  // The member tags, beside the names but out of the heading.
  const tags = el('p', 'hint');
  tags.append(who(reporter, r.reporter && r.reporter.member_id), ' · ', who(reported, r.reported && r.reported.member_id));
  li.append(h, tags, when, el('p', 'pre reason', r.reason || ''));
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
  const { removed, removeMember } = view.ctx;
  if (id && removed.has(id)) {
    li.append(el('p', 'removed', `${reported} was removed from the circle.`));
  } else if (id) {
    const b = el('button', 'danger small', `Remove ${reported}`);
    b.type = 'button';
    b.addEventListener('click', () => removeMember(id, reported));
    li.append(b);
  }
  return li;
}

// The view's template is put in the page when an organiser link opens.
export function wireReports() {
  $('org-reports-more').addEventListener('click', more);
}
