// Shared by every page: calls to the API with the session (cookie and CSRF token), problem+json
// messages shown beside their field, French dates in Europe/Paris, small DOM helpers.

const TZ = 'Europe/Paris';

/** The session's CSRF token, sent with every state-changing request. */
export function csrf() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? '';
}

/** An API error: the problem+json document, when the API sent one. */
export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `Erreur ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

/**
 * Calls the API on this origin. `body` is sent as JSON; the answer is parsed as JSON (or text
 * with `{ raw: true }`). Throws ApiProblem on a 4xx/5xx; a 401 sends the person to sign in.
 */
export async function api(method, path, body, options = {}) {
  const headers = { Accept: options.accept || 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (options.headers) Object.assign(headers, options.headers);
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign(`/app/connexion?retour=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiProblem(401, { detail: 'Session expirée : reconnectez-vous.' });
  }
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiProblem(response.status, problem);
  }
  if (options.raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  return type.includes('json') ? response.json() : response.text();
}

/** Creates an element: el('p', { class: 'fr-text' }, 'texte', child…). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const dateTime = new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, dateStyle: 'full', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const shortDate = new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, day: '2-digit', month: '2-digit', year: 'numeric' });
const timeOnly = new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, hour: '2-digit', minute: '2-digit' });
const number = new Intl.NumberFormat('fr-FR');

/** « vendredi 4 décembre 2026 à 18:00 », in Europe/Paris. */
export const fmtDateTime = (iso) => (iso ? dateTime.format(new Date(iso)) : '');
/** « vendredi 4 décembre 2026 » for an instant, in Europe/Paris. */
export const fmtDate = (iso) => (iso ? dateOnly.format(new Date(iso)) : '');
/** « 04/12/2026 ». */
export const fmtShortDate = (iso) => (iso ? shortDate.format(new Date(iso)) : '');
/** « 18:00 », in Europe/Paris. */
export const fmtTime = (iso) => (iso ? timeOnly.format(new Date(iso)) : '');
/** A calendar day (`2026-12-04`, no time) in French, without a time zone shift. */
export const fmtDay = (day) => (day ? dateOnly.format(new Date(`${day}T12:00:00Z`)) : '');
/** « 13 000 ». */
export const fmtNumber = (n) => number.format(n ?? 0);
/** « 4,2 km » from metres. */
export const fmtKm = (m) => `${(m / 1000).toLocaleString('fr-FR', { maximumFractionDigits: 1 })} km`;

/** A DSFR alert in the page's live region (or `where`), replacing the previous one. */
export function announce(text, kind = 'info', where = document.getElementById('annonces')) {
  if (!where) return;
  where.replaceChildren(el('div', { class: `fr-alert fr-alert--${kind} fr-alert--sm fr-mb-2w`, role: kind === 'error' ? 'alert' : 'status' }, el('p', {}, text)));
}

/** Clears the error marks of a form. */
export function clearErrors(form) {
  form.querySelectorAll('.fr-input-group--error, .fr-select-group--error, .fr-fieldset--error').forEach((g) => {
    g.classList.remove('fr-input-group--error', 'fr-select-group--error', 'fr-fieldset--error');
  });
  form.querySelectorAll('.fr-input--error, .fr-select--error').forEach((i) => i.classList.remove('fr-input--error', 'fr-select--error'));
  form.querySelectorAll('.app-field-error').forEach((p) => p.remove());
  form.querySelectorAll('[aria-invalid]').forEach((i) => i.removeAttribute('aria-invalid'));
}

/**
 * Shows an API error on a form: each problem+json error whose pointer (`#/capacity`) matches a
 * field's `data-pointer` goes beside that field; the rest in an alert above the form.
 */
export function showProblem(form, error) {
  clearErrors(form);
  const problem = error instanceof ApiProblem ? error.problem : { detail: String(error) };
  const errors = problem.errors || (problem.pointer ? [{ pointer: problem.pointer, detail: problem.detail }] : []);
  let placed = false;
  for (const e of errors) {
    const pointer = (e.pointer || '').replace(/^#/, '');
    const input = form.querySelector(`[data-pointer="${CSS.escape(pointer)}"]`)
      || form.querySelector(`[data-pointer="${CSS.escape(pointer.split('/').slice(0, 2).join('/'))}"]`);
    if (!input) continue;
    const group = input.closest('.fr-input-group, .fr-select-group, .fr-fieldset');
    group?.classList.add(input.tagName === 'SELECT' ? 'fr-select-group--error' : 'fr-input-group--error');
    input.classList.add(input.tagName === 'SELECT' ? 'fr-select--error' : 'fr-input--error');
    input.setAttribute('aria-invalid', 'true');
    const id = `${input.id}-erreur`;
    input.setAttribute('aria-describedby', id);
    (group || input.parentElement).append(el('p', { class: 'fr-error-text app-field-error', id }, e.detail || problem.detail));
    placed = true;
  }
  const box = form.querySelector('.app-form-alert') || form.prepend(el('div', { class: 'app-form-alert' })) || form.querySelector('.app-form-alert');
  box.replaceChildren(placed ? '' : el('div', { class: 'fr-alert fr-alert--error fr-alert--sm fr-mb-2w', role: 'alert' }, el('p', {}, problem.detail || problem.title || 'Erreur')));
}

/** Runs `work` for a form's submit: disables the button meanwhile, shows a problem beside its field. */
export function onSubmit(form, work) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    clearErrors(form);
    form.querySelector('.app-form-alert')?.replaceChildren();
    try {
      await work(new FormData(form));
    } catch (error) {
      showProblem(form, error);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

/** A DSFR table: `columns` are [label, row → cell]. */
export function table(caption, columns, rows, options = {}) {
  const head = el('tr', {}, columns.map(([label]) => el('th', { scope: 'col' }, label)));
  const body = rows.length
    ? rows.map((row) => el('tr', {}, columns.map(([, cell]) => el('td', {}, cell(row)))))
    : [el('tr', {}, el('td', { colspan: columns.length }, options.empty || 'Aucune ligne.'))];
  return el('div', { class: 'fr-table fr-table--no-caption fr-mb-2w' },
    // Focusable: a wide table scrolls, and the keyboard must reach what it hides (RGAA 7.3).
    el('table', { tabindex: 0 }, el('caption', {}, caption), el('thead', {}, head), el('tbody', {}, body)));
}

/** A DSFR badge. */
export const badge = (text, kind = 'info') => el('p', { class: `fr-badge fr-badge--sm fr-badge--${kind}` }, text);

/** The page's object id (`/app/cpam/lots/{id}`) and the signed-in GP's RPPS. */
export const pageId = () => document.body.dataset.id;
export const myRpps = () => document.body.dataset.rpps;

/** Downloads an API answer as a file (the API wants its Accept header, which a link cannot set). */
export async function download(path, accept, filename) {
  const response = await api('GET', path, undefined, { accept, raw: true });
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Polls job `job` until it has succeeded or failed, calling `onProgress` with each state. */
export async function waitForJob(job, onProgress = () => {}) {
  let current = job;
  while (current.status === 'queued' || current.status === 'running') {
    onProgress(current);
    // eslint-disable-next-line no-await-in-loop
    await new Promise((resolve) => { setTimeout(resolve, 700); });
    // eslint-disable-next-line no-await-in-loop
    current = await api('GET', `/jobs/${current.id}`);
  }
  return current;
}

/** Runs `load` and shows its failure in the page's live region. */
export async function guarded(load) {
  try {
    await load();
  } catch (error) {
    if (!(error instanceof ApiProblem && error.status === 401)) announce(error.message || String(error), 'error');
    console.error(error);
  }
}

/** Midnight of today in Europe/Paris, as RFC 3339 with its offset. */
export function parisMidnight(daysFromToday = 0) {
  const now = new Date(Date.now() + daysFromToday * 86_400_000);
  const day = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  const offset = new Intl.DateTimeFormat('en-US', { timeZone: TZ, timeZoneName: 'longOffset' })
    .formatToParts(now).find((p) => p.type === 'timeZoneName')?.value.replace('GMT', '') || '+00:00';
  return `${day}T00:00:00${offset === '' ? '+00:00' : offset}`;
}
