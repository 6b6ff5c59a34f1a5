// The default icebreakers, as the server has them (GET /prompts): what the
// create form starts with and what the organiser sees while a circle has
// none of its own. Fetched once; [] if it can't be.

import { api } from './api.js';

let loading = null;

export function defaultPrompts() {
  if (!loading) {
    loading = api('/prompts')
      .then((r) => (r.status === 200 && r.data && Array.isArray(r.data.prompts) ? r.data.prompts : []))
      .catch(() => { loading = null; return []; });
  }
  return loading;
}
