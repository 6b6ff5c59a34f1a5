// The organiser's live roster ("Here now"): everyone connected, what each is
// doing, and Remove on each. Names are isolated (<bdi>) and carry a short
// member tag, so two people with one name can be told apart.

import { $, el, setText } from '../lib/dom.js';

const STATE_TEXT = {
  waiting: 'waiting', chatting: 'chatting', idle: 'between chats', away: 'reconnecting', sitting_out: 'sitting out',
};

let shownKey = '';

// A name as the organiser sees it: isolated, with the member tag after it.
export function who(name, memberId) {
  const span = el('span', 'who');
  span.append(el('bdi', '', name || 'Someone'));
  if (memberId) {
    const tag = el('span', 'tag', `#${String(memberId).slice(0, 4)}`);
    tag.title = 'Member tag: tells people with the same name apart';
    span.append(' ', tag);
  }
  return span;
}

function since(at) {
  const t = Date.parse(at || '');
  if (Number.isNaN(t)) return '';
  const min = Math.max(0, Math.round((Date.now() - t) / 60_000));
  return min < 1 ? 'just now' : `${min} min`;
}

// `present` [{name, member_id, state, since}], `total`, the member ids already
// removed, and what Remove does.
export function renderRoster(present, total, removed, onRemove) {
  const list = Array.isArray(present) ? present : [];
  const n = Number(total) || list.length;
  setText($('org-present-h'), n ? `Here now (${n})` : 'Here now');
  setText($('org-present-sum'), !n
    ? 'Nobody is connected right now.'
    : n > list.length ? `Showing ${list.length} of ${n} people connected.` : '');
  const key = JSON.stringify([list, [...removed]]);
  if (key === shownKey) return; // keep focus and scroll where they are
  shownKey = key;
  $('org-present').replaceChildren(...list.map((p) => {
    const li = el('li', 'person');
    const state = el('span', `state st-${p.state}`, STATE_TEXT[p.state] || p.state || '');
    const time = el('span', 'hint', since(p.since));
    li.append(who(p.name, p.member_id), ' ', state, ' ', time);
    if (p.member_id && removed.has(p.member_id)) {
      li.append(el('span', 'hint', ' removed'));
    } else if (p.member_id) {
      const b = el('button', 'danger small', 'Remove');
      b.type = 'button';
      b.setAttribute('aria-label', `Remove member #${String(p.member_id).slice(0, 4)} (${p.name || 'Someone'})`);
      b.addEventListener('click', () => onRemove(p.member_id, p.name || 'Someone'));
      li.append(b);
    }
    return li;
  }));
}
