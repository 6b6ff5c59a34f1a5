// Where the APIs are (`config.json`) and the HTTP API client. No DOM.

let config = null;

// Resolves to { http_url, ws_url } once `config.json` is read.
export const configReady = fetch('./config.json', { cache: 'no-store' })
  .then((r) => {
    if (!r.ok) throw new Error(`config.json: HTTP ${r.status}`);
    return r.json();
  })
  .then((c) => {
    config = { http_url: String(c.http_url).replace(/\/+$/, ''), ws_url: String(c.ws_url) };
    return config;
  });

// `key`: the organiser key, sent only as a header (never in a URL).
export async function api(path, { method = 'GET', body, key } = {}) {
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
