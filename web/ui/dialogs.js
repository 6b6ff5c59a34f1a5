// Dialogs: modal, focus kept inside, Escape closes; and the "Are you sure?" box.

import { $ } from '../lib/dom.js';

export function openModal(d, first) {
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

export function closeDialogs() {
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
}

// Resolves true when the person confirms. Focus starts on Cancel.
export function confirmBox(title, text, ok) {
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
