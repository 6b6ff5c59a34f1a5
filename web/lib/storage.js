// What this browser remembers (localStorage, which may be unavailable): the
// display name, the "sound on match" choice and each circle's member secret.

const MEMBER_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

export const store = {
  get(k) { try { return localStorage.getItem(k); } catch { return null; } },
  set(k, v) { try { localStorage.setItem(k, v); } catch { /* private mode */ } },
};
export const savedName = () => store.get('circle.name') || '';
export const saveName = (n) => store.set('circle.name', n);

// The member secret: made once per circle, kept in this browser, sent with every join.
const memberMemory = new Map(); // when localStorage is unavailable
export function memberSecret(circle) {
  const key = `circle.member.${circle}`;
  const kept = store.get(key) || memberMemory.get(key);
  if (kept && /^[A-Za-z0-9_-]{16,64}$/.test(kept)) return kept;
  // 64 symbols: a byte's low 6 bits pick one without bias. 32 symbols = 192 bits.
  const secret = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => MEMBER_ALPHABET[b & 63]).join('');
  memberMemory.set(key, secret);
  store.set(key, secret);
  return secret;
}
