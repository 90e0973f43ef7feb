// CPTS coordinators: the garde plans (plan a period and follow it), swaps to approve, the
// cabinets, exports, and the availability their doctors declared.
import {
  api, el, announce, fmtDateTime, fmtDay, fmtNumber, table, guarded, onSubmit, badge, download, waitForJob,
} from '../app.js';

const STATUS = { queued: ['En attente', 'new'], running: ['En cours', 'info'], succeeded: ['Calculé', 'success'], failed: ['Échec', 'error'] };
const statusBadge = (j) => { const [l, k] = STATUS[j.status] || [j.status, 'info']; return badge(l, k); };

async function loadPlans() {
  const page = await api('GET', '/garde/plans?limit=50');
  const plans = page.items || page;
  document.getElementById('liste-plannings').replaceChildren(table('Plannings', [
    ['Demandé le', (j) => fmtDateTime(j.created_at)],
    ['État', statusBadge],
    ['Gardes pourvues', (j) => (j.result ? `${fmtNumber(j.result.objective?.filled ?? 0)} sur ${fmtNumber(j.result.counts?.positions ?? 0)}` : '')],
    ['Détail', (j) => (j.status === 'succeeded' ? el('a', { class: 'fr-link', href: `/app/coordination/plannings/${j.id}` }, 'Ouvrir le calendrier') : j.error || '')],
  ], plans, { empty: 'Aucun planning pour l\'instant.' }));
  return plans;
}

async function follow(started) {
  const box = document.getElementById('planning-en-cours');
  const job = await waitForJob(started, (current) => {
    box.replaceChildren(el('p', {}, 'Calcul en cours : ', statusBadge(current), ` ${Math.round((current.progress || 0) * 100)} %`));
  });
  box.replaceChildren(job.status === 'succeeded'
    ? el('div', { class: 'fr-alert fr-alert--success fr-alert--sm', role: 'status' }, el('p', {}, 'Planning calculé. ', el('a', { href: `/app/coordination/plannings/${job.id}` }, 'Ouvrir le calendrier')))
    : el('div', { class: 'fr-alert fr-alert--error fr-alert--sm', role: 'alert' }, el('p', {}, `Échec : ${job.error || ''}`)));
  await loadPlans();
}

async function loadOffers() {
  const view = await api('GET', '/garde/offers');
  const pending = (view.offers || []).filter((o) => o.state === 'taken' || o.state === 'pending_approval' || o.state === 'awaiting_approval');
  document.getElementById('liste-echanges').replaceChildren(table('Échanges à approuver', [
    ['Garde', (o) => `${fmtDateTime(o.start)}, ${o.cabinet_id}`],
    ['Cédée par', (o) => o.from_rpps],
    ['Reprise par', (o) => o.taker_rpps || ''],
    ['Action', (o) => el('button', { class: 'fr-btn fr-btn--sm', type: 'button', onclick: () => guarded(async () => { await api('POST', `/garde/offers/${o.id}/approve`); announce('Échange approuvé : le planning publié est à jour.', 'success'); await loadOffers(); }) }, 'Approuver')],
  ], pending, { empty: 'Aucun échange en attente de votre approbation.' }));
}

async function loadCabinets() {
  const answer = await api('GET', '/cabinets');
  const cabinets = answer.items || answer;
  document.getElementById('liste-cabinets').replaceChildren(table('Cabinets de garde', [
    ['Cabinet', (c) => `${c.name} (${c.cabinet_id})`],
    ['Commune', (c) => c.insee],
    ['Médecins par garde', (c) => c.need],
    ['Créneaux', (c) => `${c.slot_minutes} min`],
    ['Adresse', (c) => (c.address ? `${c.address.line}, ${c.address.postcode} ${c.address.city}` : 'Non renseignée')],
    ['Téléphone', (c) => c.phone || ''],
  ], cabinets, { empty: 'Aucun cabinet.' }));
}

async function loadAvailability(plans) {
  const latest = plans.find((p) => p.status === 'succeeded');
  if (!latest) { document.getElementById('liste-disponibilites').replaceChildren(el('p', {}, 'Les disponibilités s\'affichent dès qu\'un planning est calculé.')); return; }
  const roster = await api('GET', `/garde/plans/${latest.id}/roster`);
  const doctors = [...new Set(roster.items.map((e) => e.rpps))].slice(0, 30);
  const rows = await Promise.all(doctors.map(async (rpps) => {
    const [windows, garde] = await Promise.all([api('GET', `/doctors/${rpps}/availability`), api('GET', `/doctors/${rpps}/garde`)]);
    const list = (windows.items || windows).filter((w) => !w.withdrawn_at);
    return { rpps, windows: list, garde };
  }));
  document.getElementById('liste-disponibilites').replaceChildren(table('Disponibilités des médecins', [
    ['Médecin (RPPS)', (r) => r.rpps],
    ['Fenêtres déclarées', (r) => fmtNumber(r.windows.length)],
    ['Première', (r) => (r.windows[0] ? fmtDateTime(r.windows[0].start) : '')],
    ['Gardes au plus', (r) => r.garde.max_shifts ?? 'non déclaré'],
    ['Distance au plus', (r) => (r.garde.max_km ? `${r.garde.max_km} km` : '30 km (défaut)')],
  ], rows, { empty: 'Aucun médecin dans le dernier planning.' }));
}

guarded(async () => {
  const [plans] = await Promise.all([loadPlans(), loadOffers(), loadCabinets()]);
  onSubmit(document.getElementById('form-planning'), async (data) => {
    const job = await api('POST', '/garde/plans', { period: { start: data.get('start'), end: data.get('end') } });
    announce(`Planning du ${fmtDay(data.get('start'))} au ${fmtDay(data.get('end'))} demandé.`, 'info');
    await follow(job);
  });
  const form = document.getElementById('form-exports');
  onSubmit(form, async (data) => {
    await download(`/garde/tableau?month=${encodeURIComponent(data.get('month'))}`, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', `tableau-de-garde-${data.get('month')}.xlsx`);
  });
  document.getElementById('export-carence').addEventListener('click', () => guarded(async () => {
    const month = document.getElementById('export-mois').value;
    await download(`/garde/carence?month=${encodeURIComponent(month)}`, 'text/csv', `carences-${month}.csv`);
  }));
  await loadAvailability(plans);
});
