// A garde plan: the roster calendar per cabinet (month and week), empty positions with their
// reason, the load per doctor (fairness), publication, and a doctor's withdrawal (repair).
import {
  api, el, announce, fmtDateTime, fmtDay, fmtTime, fmtNumber, table, guarded, pageId, onSubmit, badge,
} from '../app.js';

const id = pageId();
// The reasons of FORMATS.md §3 (garde::report).
const REASONS = {
  no_doctor_available: 'aucun médecin disponible',
  no_doctor_in_range: 'médecins disponibles trop loin',
  doctors_at_max_shifts: 'médecins au maximum de leurs gardes',
  doctors_busy_that_day: 'médecins déjà de garde ce jour-là',
};
const view = { roster: null, unfilled: null, cabinet: null, mode: 'mois', anchor: null };

const dayKey = (d) => d.toISOString().slice(0, 10);
const addDays = (d, n) => new Date(d.getTime() + n * 86_400_000);

function periodDays() {
  const a = new Date(`${view.roster.period_start}T12:00:00Z`);
  const b = new Date(`${view.roster.period_end}T12:00:00Z`);
  return [a, b];
}

function visibleRange() {
  const anchor = view.anchor;
  if (view.mode === 'semaine') {
    const monday = addDays(anchor, -((anchor.getUTCDay() + 6) % 7));
    return [monday, addDays(monday, 6)];
  }
  const first = new Date(Date.UTC(anchor.getUTCFullYear(), anchor.getUTCMonth(), 1, 12));
  const last = new Date(Date.UTC(anchor.getUTCFullYear(), anchor.getUTCMonth() + 1, 0, 12));
  return [addDays(first, -((first.getUTCDay() + 6) % 7)), addDays(last, (7 - last.getUTCDay()) % 7)];
}

function renderCalendar() {
  const [from, to] = visibleRange();
  const [start, end] = periodDays();
  const cabinet = view.cabinet;
  const entries = view.roster.items.filter((e) => e.cabinet_id === cabinet);
  const holes = view.unfilled.items.filter((u) => u.cabinet_id === cabinet);
  const title = view.mode === 'semaine'
    ? `Semaine du ${fmtDay(dayKey(from))}`
    : view.anchor.toLocaleDateString('fr-FR', { month: 'long', year: 'numeric', timeZone: 'UTC' });
  document.getElementById('periode-affichee').textContent = `${cabinet} — ${title}`;
  const cells = ['Lundi', 'Mardi', 'Mercredi', 'Jeudi', 'Vendredi', 'Samedi', 'Dimanche'].map((d) => el('div', { class: 'app-calendar__head' }, d));
  for (let d = from; d <= to; d = addDays(d, 1)) {
    const key = dayKey(d);
    const inPeriod = d >= start && d <= end;
    const outMonth = view.mode === 'mois' && d.getUTCMonth() !== view.anchor.getUTCMonth();
    const cell = el('div', { class: `app-calendar__day${!inPeriod || outMonth ? ' app-calendar__day--out' : ''}` },
      el('div', { class: 'app-calendar__date' }, d.toLocaleDateString('fr-FR', { day: 'numeric', month: 'short', timeZone: 'UTC' })));
    for (const e of entries.filter((x) => x.date === key)) {
      cell.append(el('span', { class: 'app-shift', title: `${fmtTime(e.start)}–${fmtTime(e.end)}, à ${(e.distance_m / 1000).toFixed(1)} km` }, `${fmtTime(e.start)} ${e.rpps}`));
    }
    for (const u of holes.filter((x) => x.date === key)) {
      cell.append(el('span', { class: 'app-shift app-shift--empty' }, `${fmtTime(u.start)} À POURVOIR (${u.missing}) : ${REASONS[u.reason] || u.reason}`));
    }
    cells.push(cell);
  }
  document.getElementById('grille').replaceChildren(el('div', { class: 'app-calendar' }, cells));
}

function renderUnfilled() {
  document.getElementById('liste-vacants').replaceChildren(table('Gardes non pourvues', [
    ['Cabinet', (u) => u.cabinet_id],
    ['Jour', (u) => fmtDay(u.date)],
    ['Horaire', (u) => `${fmtTime(u.start)} – ${fmtTime(u.end)}`],
    ['Médecins manquants', (u) => u.missing],
    ['Raison', (u) => REASONS[u.reason] || u.reason],
  ], view.unfilled.items, { empty: 'Toutes les gardes sont pourvues.' }));
}

function renderLoad() {
  const load = new Map();
  for (const e of view.roster.items) load.set(e.rpps, (load.get(e.rpps) || 0) + 1);
  const rows = [...load.entries()].sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...rows.map(([, n]) => n));
  const mean = rows.length ? rows.reduce((s, [, n]) => s + n, 0) / rows.length : 0;
  document.getElementById('charge').replaceChildren(
    el('p', {}, `${rows.length} médecins, ${(mean).toLocaleString('fr-FR', { maximumFractionDigits: 1 })} gardes en moyenne ; l'optimiseur minimise la somme des carrés des charges (sur l'année de référence).`),
    el('figure', { role: 'group', 'aria-label': 'Gardes par médecin' }, rows.map(([rpps, n]) => el('div', { class: 'app-bar' },
      el('span', { class: 'app-bar__label' }, rpps),
      el('span', { class: 'app-bar__fill', style: `width:${Math.round((20 * n) / max)}rem`, 'aria-hidden': 'true' }),
      el('span', {}, `${n} garde${n > 1 ? 's' : ''}`)))),
  );
  const select = document.getElementById('retrait-medecin');
  select.replaceChildren(...rows.map(([rpps]) => el('option', { value: rpps }, rpps)));
}

function renderHeader(job) {
  const r = job.result || {};
  const published = view.roster.published_at;
  const button = el('button', { class: 'fr-btn', type: 'button' }, 'Publier le planning');
  button.addEventListener('click', () => guarded(async () => {
    button.disabled = true;
    const done = await api('POST', `/garde/plans/${id}/publish`);
    announce(`Planning publié : ${fmtNumber(done.slots)} créneaux ouverts aux régulateurs.`, 'success');
    view.roster = await api('GET', `/garde/plans/${id}/roster`);
    renderHeader(job);
  }));
  document.getElementById('etat-planning').replaceChildren(
    el('p', {}, `Du ${fmtDay(view.roster.period_start)} au ${fmtDay(view.roster.period_end)} : `,
      `${fmtNumber(r.objective?.filled ?? view.roster.items.length)} gardes pourvues sur ${fmtNumber(r.counts?.positions ?? 0)}. `,
      published ? badge(`Publié le ${fmtDateTime(published)}`, 'success') : badge('Non publié', 'warning')),
    published ? '' : button,
  );
}

guarded(async () => {
  const [job, roster, unfilled] = await Promise.all([
    api('GET', `/jobs/${id}`), api('GET', `/garde/plans/${id}/roster`), api('GET', `/garde/plans/${id}/unfilled`),
  ]);
  Object.assign(view, { roster, unfilled });
  const cabinets = [...new Set([...roster.items, ...unfilled.items].map((e) => e.cabinet_id))].sort();
  view.cabinet = cabinets[0];
  view.anchor = new Date(`${roster.period_start}T12:00:00Z`);
  const select = document.getElementById('cabinet');
  select.replaceChildren(...cabinets.map((c) => el('option', { value: c }, c)));
  select.addEventListener('change', () => { view.cabinet = select.value; renderCalendar(); });
  document.getElementById('vue').addEventListener('change', (e) => { view.mode = e.target.value; renderCalendar(); });
  const step = (n) => {
    view.anchor = view.mode === 'semaine' ? addDays(view.anchor, 7 * n) : new Date(Date.UTC(view.anchor.getUTCFullYear(), view.anchor.getUTCMonth() + n, 1, 12));
    renderCalendar();
  };
  document.getElementById('precedent').addEventListener('click', () => step(-1));
  document.getElementById('suivant').addEventListener('click', () => step(1));
  renderHeader(job);
  renderCalendar();
  renderUnfilled();
  renderLoad();
  onSubmit(document.getElementById('form-retrait'), async () => {
    const rpps = document.getElementById('retrait-medecin').value;
    const from = document.getElementById('retrait-debut').value || view.roster.period_start;
    const to = document.getElementById('retrait-fin').value || view.roster.period_end;
    const shifts = view.roster.items.filter((e) => e.rpps === rpps && e.date >= from && e.date <= to);
    if (!view.roster.published_at) throw new Error('Publiez le planning avant d\'y retirer un médecin.');
    let slots = 0;
    for (const s of shifts) {
      // eslint-disable-next-line no-await-in-loop
      const done = await api('POST', '/garde/withdrawals', { cabinet_id: s.cabinet_id, date: s.date, rpps, reason: 'Retrait signalé par la coordination' });
      slots += done.slots_withdrawn;
    }
    document.getElementById('retrait-resultat').replaceChildren(el('div', { class: 'fr-alert fr-alert--info fr-alert--sm', role: 'status' },
      el('p', {}, `${shifts.length} garde(s) retirée(s), ${slots} créneau(x) fermé(s). Calculez un planning de la période pour les repourvoir, puis publiez-le : les réservations signalées suivent.`)));
  });
});
