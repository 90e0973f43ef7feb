// CPAM staff: the territory's figures (orphans, proposals by state, attachments), launch a batch
// on a CPTS, communes chosen by name or an EPCI, follow its progress, and the list of batches.
import {
  api, el, announce, fmtDateTime, fmtNumber, table, guarded, onSubmit, badge, waitForJob,
} from '../app.js';
import { communeCombobox } from '../suggest.js';

const STATUS = { queued: ['En attente', 'new'], running: ['En cours', 'info'], succeeded: ['Terminé', 'success'], failed: ['Échec', 'error'] };
const chosen = new Map();

function kpi(label, value, hint) {
  return el('div', { class: 'fr-col-6 fr-col-md-3' },
    el('div', { class: 'fr-tile fr-tile--no-icon' },
      el('div', { class: 'fr-tile__body' }, el('div', { class: 'fr-tile__content' },
        el('p', { class: 'app-kpi' }, fmtNumber(value)),
        el('h3', { class: 'fr-tile__title fr-text--md' }, label),
        hint ? el('p', { class: 'fr-tile__detail' }, hint) : null))));
}

async function loadFigures() {
  const report = await api('GET', '/reports/attachment');
  const sum = (key) => report.communes.reduce((n, c) => n + (c[key] || 0), 0);
  document.getElementById('indicateurs').replaceChildren(
    kpi('Patients sans médecin traitant', sum('orphans'), `${fmtNumber(sum('unmatched_no_doctor_in_range') + sum('unmatched_capacity_exhausted'))} restés sans proposition au dernier lot`),
    kpi('Propositions en attente', sum('proposed'), `${fmtNumber(sum('accepted'))} acceptées, ${fmtNumber(sum('refused'))} refusées, ${fmtNumber(sum('expired'))} expirées`),
    kpi('Rattachés ce mois-ci', sum('attached_this_month'), `mois commençant le ${new Date(`${report.month}T12:00:00Z`).toLocaleDateString('fr-FR')}`),
    kpi('Rattachés au total', sum('attached'), `${fmtNumber(sum('places_left'))} places encore libres chez les médecins`),
  );
  drawMonths(report.by_month || []);
}

/** Attachments per month over the last twelve: bars, each labelled with its figure. */
function drawMonths(months) {
  const max = Math.max(1, ...months.map((m) => m.attached));
  const label = (m) => new Date(`${m.month}-15T12:00:00Z`).toLocaleDateString('fr-FR', { month: 'long', year: 'numeric' });
  document.getElementById('rattachements-mois').replaceChildren(
    el('figure', { role: 'group', 'aria-labelledby': 'rattachements-titre' },
      el('figcaption', { id: 'rattachements-titre', class: 'fr-text--md fr-text--bold' }, 'Patients rattachés à un médecin traitant, par mois'),
      months.map((m) => el('div', { class: 'app-bar' },
        el('span', { class: 'app-bar__label' }, label(m)),
        el('span', { class: 'app-bar__fill', style: `width:${Math.round((20 * m.attached) / max)}rem`, 'aria-hidden': 'true' }),
        el('span', {}, fmtNumber(m.attached))))));
}

function statusBadge(job) {
  const [label, kind] = STATUS[job.status] || [job.status, 'info'];
  return badge(job.status === 'running' ? `${label} (${Math.round(job.progress * 100)} %)` : label, kind);
}

function totals(job) {
  const r = job.result;
  if (!r) return job.error ? `Erreur : ${job.error}` : '';
  const matched = r.objective?.matched;
  const assigned = Array.isArray(matched) ? matched.reduce((a, b) => a + b, 0) : (r.assigned ?? '');
  return `${fmtNumber(assigned)} patients proposés, ${fmtNumber(r.unmatched ?? r.counts?.unmatched ?? 0)} sans médecin`;
}

async function loadBatches() {
  const answer = await api('GET', '/batches?limit=50');
  const jobs = Array.isArray(answer) ? answer : answer.items;
  document.getElementById('liste-lots').replaceChildren(table('Lots d\'appariement', [
    ['Lancé le', (j) => fmtDateTime(j.created_at)],
    ['État', (j) => statusBadge(j)],
    ['Résultat', (j) => totals(j)],
    ['Détail', (j) => (j.status === 'succeeded' ? el('a', { class: 'fr-link', href: `/app/cpam/lots/${j.id}` }, 'Voir le lot') : '')],
  ], jobs, { empty: 'Aucun lot pour l\'instant.' }));
}

async function follow(started) {
  const box = document.getElementById('lot-en-cours');
  const job = await waitForJob(started, (current) => {
    const bar = el('progress', { max: 100, value: Math.round((current.progress || 0) * 100), 'aria-label': 'Avancement du lot' });
    box.replaceChildren(el('p', {}, 'Lot ', statusBadge(current), ` — étape : ${current.stage || 'en attente'}`), bar);
  });
  if (job.status === 'succeeded') {
    box.replaceChildren(el('div', { class: 'fr-alert fr-alert--success fr-alert--sm', role: 'status' },
      el('p', {}, `Lot terminé : ${totals(job)}. `, el('a', { href: `/app/cpam/lots/${job.id}` }, 'Voir le lot'))));
    await loadBatches();
    return;
  }
  box.replaceChildren(el('div', { class: 'fr-alert fr-alert--error fr-alert--sm', role: 'alert' }, el('p', {}, `Le lot a échoué : ${job.error || 'erreur inconnue'}`)));
}

function showChosen() {
  const tags = document.getElementById('communes-choisies');
  tags.replaceChildren(...[...chosen.values()].map((c) => el('li', {},
    el('button', { class: 'fr-tag fr-tag--sm fr-tag--dismiss', type: 'button', 'aria-label': `Retirer ${c.name}`, onclick: () => { chosen.delete(c.insee); showChosen(); } }, `${c.name} (${c.insee})`))));
}

function switchType() {
  const type = document.querySelector('input[name="type"]:checked').value;
  document.getElementById('choix-cpts').hidden = type !== 'cpts';
  document.getElementById('choix-communes').hidden = type !== 'communes';
  document.getElementById('choix-epci').hidden = type !== 'epci';
}

guarded(async () => {
  const [territories] = await Promise.all([api('GET', '/territories'), loadFigures(), loadBatches()]);
  const select = document.getElementById('cpts');
  const scope = document.body.dataset.scope || '';
  const mine = territories.filter((t) => scope === 'national' || t.departements.some((d) => scope.split(',').includes(`dep:${d}`)));
  select.replaceChildren(...mine.map((t) => el('option', { value: t.id }, `${t.name} — ${t.communes.length} communes`)));
  document.querySelectorAll('input[name="type"]').forEach((r) => r.addEventListener('change', switchType));
  communeCombobox(document.getElementById('commune-recherche'), document.getElementById('commune-suggestions'), (c) => {
    chosen.set(c.insee, c);
    document.getElementById('commune-recherche').value = '';
    showChosen();
  });
  onSubmit(document.getElementById('form-lot'), async (data) => {
    const type = data.get('type');
    let territory;
    if (type === 'cpts') territory = { insee: mine.find((t) => t.id === data.get('cpts'))?.communes || [] };
    if (type === 'communes') territory = { insee: [...chosen.keys()] };
    if (type === 'epci') territory = { epci: String(data.get('epci') || '').trim() };
    const body = { territory };
    const km = data.get('max_km');
    if (km) body.default_max_km = Number(km);
    const job = await api('POST', '/batches', body);
    announce('Lot lancé : vous pouvez suivre son avancement ci-dessous.', 'info');
    await follow(job);
  });
});
