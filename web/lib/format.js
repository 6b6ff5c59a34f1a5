// Pure formatting helpers: access codes, the page's own links, times and the
// API's error messages.

const ALPHABET = '23456789ABCDEFGHJKMNPQRSTVWXYZ';
export const CODE_LEN = 10;

export const normalizeCode = (s) => String(s).replace(/[\s-]+/g, '').toUpperCase();
export const formatCode = (c) => (c.length === CODE_LEN ? `${c.slice(0, 5)}-${c.slice(5)}` : c);
export const isCode = (c) => c.length === CODE_LEN && [...c].every((ch) => ALPHABET.includes(ch));
export const enc = encodeURIComponent;

// This page with `?code=`: what members open to join.
export function inviteLink(code) {
  const u = new URL(location.href);
  u.search = '';
  u.hash = '';
  u.searchParams.set('code', formatCode(code));
  return u.href;
}

// This page with `#organizer=KEY` (a fragment never reaches a server).
export function organizerLink(key) {
  const u = new URL(location.href);
  u.search = '';
  u.hash = `organizer=${enc(key)}`;
  return u.href;
}

export function timeText(iso) {
  const d = iso ? new Date(iso) : new Date();
  return (Number.isNaN(d.getTime()) ? new Date() : d).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function dateTimeText(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

// 4:05 for 245 s.
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

// The API's message without its "field: " prefix.
export const bare = (message) => String(message || 'is not valid').replace(/^[^:]*:\s*/, '');
