// A batch: tiers and totals, the map by commune (never one marker per patient), the unmatched
// patients with their reasons (filtered, downloadable), the proposals pipeline, sending the
// proposals, and the what-if of doctors retiring.
import {
  api, el, announce, fmtDateTime, fmtNumber, fmtKm, table, guarded, pageId, download, badge, onSubmit, waitForJob,
} from '../app.js';
import { createMap, drawCommunes, departementsOf, shareColour } from '../map.js';

const id = pageId();
const TIERS = ['ALD', '70 ans et plus ou C2S', 'Autres'];
const REASONS = { no_doctor_in_range: 'Aucun médecin à distance', capacity_exhausted: 'Places épuisées' };
const STATES = { proposed: 'Proposée', accepted: 'Acceptée', attached: 'Rattachée', refused: 'Refusée', expired: 'Expirée', withdrawn: 'Retirée' };

function summary(job) {
  const r = job.result || {};
  const matched = r.objective?.matched || [];
  const byTier = r.tiers || r.counts?.tiers;
  const rows = [0, 1, 2].map((t) => ({
    tier: t + 1,
    matched: matched[t] ?? 0,
    patients: byTier?.[t]?.patients ?? 0,
    unmatched: byTier?.[t]?.unmatched ?? 0,
  }));
  const unmatched = r.unmatched || {};
  return el('div', {},
    el('p', {}, `Lot lancé le ${fmtDateTime(job.created_at)}, terminé le ${fmtDateTime(job.finished_at)}. `,
      `Distance totale des propositions : ${fmtKm(r.objective?.metres ?? 0)}.`),
    table('Patients proposés par niveau de priorité', [
      ['Niveau', (x) => `${x.tier} — ${TIERS[x.tier - 1]}`],
      ['Patients', (x) => fmtNumber(x.patients)],
      ['Proposés à un médecin', (x) => fmtNumber(x.matched)],
      ['Sans médecin', (x) => fmtNumber(x.unmatched)],
    ], rows),
    el('p', {}, `Sans médecin : ${fmtNumber(unmatched.no_doctor_in_range ?? 0)} faute de médecin à distance, `,
      `${fmtNumber(unmatched.capacity_exhausted ?? 0)} faute de places.`),
    job.result?.territory?.without?.length ? el('div', { class: 'fr-alert fr-alert--info fr-alert--sm' }, el('p', {}, `Simulation : ${job.result.territory.without.length} médecin(s) retiré(s).`)) : null,
  );
}

async function drawMap(data) {
  const points = data.communes.filter((c) => c.lat !== null && c.lat !== undefined);
  const { L, map } = await createMap(document.getElementById('carte'));
  const total = points.reduce((n, c) => n + c.patients, 0);
  const unmatched = points.reduce((n, c) => n + c.unmatched, 0);
  await drawCommunes(L, map, departementsOf(points.map((c) => c.insee)).slice(0, 4));
  const max = Math.max(1, ...points.map((c) => c.patients));
  const layer = L.featureGroup().addTo(map);
  for (const c of points) {
    const share = c.patients ? c.unmatched / c.patients : 0;
    L.circleMarker([c.lat, c.lon], {
      radius: 4 + 26 * Math.sqrt(c.patients / max),
      color: '#161616',
      weight: 1,
      fillColor: shareColour(share),
      fillOpacity: 0.65,
    }).bindPopup(`<strong>${(c.name || c.insee).replace(/[<>&]/g, '')}</strong> (${c.insee})<br>`
      + `${fmtNumber(c.patients)} patients du lot<br>${fmtNumber(c.unmatched)} sans médecin (${Math.round(share * 100)} %)<br>`
      + `dont ${fmtNumber(c.unmatched_tier1)} en ALD`).addTo(layer);
  }
  const withPlaces = data.doctors.filter((d) => d.capacity > d.assigned);
  for (const d of withPlaces) {
    L.rectangle([[d.lat - 0.004, d.lon - 0.006], [d.lat + 0.004, d.lon + 0.006]], { color: '#000091', weight: 1, fillOpacity: 0.8 })
      .bindPopup(`<strong>${d.name.replace(/[<>&]/g, '')}</strong><br>RPPS ${d.rpps}<br>${d.capacity - d.assigned} place(s) restante(s) sur ${d.capacity}`)
      .addTo(layer);
  }
  if (points.length) map.fitBounds(layer.getBounds(), { padding: [20, 20] });
  // What the browser tests read: the map draws one circle per commune, never one per patient.
  map.getContainer().dataset.communes = String(points.length);
  map.getContainer().dataset.marqueurs = String(points.length + withPlaces.length);
  document.getElementById('carte-resume').textContent = `${fmtNumber(points.length)} communes, ${fmtNumber(total)} patients, `
    + `${fmtNumber(unmatched)} sans médecin (${total ? Math.round((100 * unmatched) / total) : 0} %) ; `
    + `${fmtNumber(withPlaces.length)} médecins ont encore des places.`;
}

function unmatchedQuery() {
  const tier = document.getElementById('filtre-niveau').value;
  const reason = document.getElementById('filtre-raison').value;
  return [tier && `tier=${tier}`, reason && `reason=${reason}`].filter(Boolean).join('&');
}

/**
 * The solver's explanation (FORMATS.md's `detail`, written in English for the files), said in
 * French; an explanation of another shape is shown as it is.
 */
function explication(detail) {
  let m = /^nearest doctor with capacity: (\d+) at (\d+) m$/.exec(detail);
  if (m) return `Le médecin le plus proche ayant des places (RPPS ${m[1]}) est à ${fmtKm(Number(m[2]))}, au-delà de la distance acceptée.`;
  if (detail === 'no doctor has capacity') return 'Aucun médecin n\'a de places.';
  m = /^(\d+) saturated doctors in reach; their places are held by tier 1: (\d+), tier 2: (\d+), tier 3: (\d+)$/.exec(detail);
  if (m) {
    const [, n, a, b, c] = m.map(Number);
    return `${fmtNumber(n)} médecin(s) à distance, tous complets ; leurs places vont à ${fmtNumber(a)} patient(s) en ALD, ${fmtNumber(b)} de 70 ans et plus ou C2S, ${fmtNumber(c)} autres.`;
  }
  return detail;
}

async function loadUnmatched() {
  const q = unmatchedQuery();
  const page = await api('GET', `/batches/${id}/unmatched?limit=25${q ? `&${q}` : ''}`);
  document.getElementById('liste-sans-medecin').replaceChildren(
    el('p', { class: 'fr-text--sm' }, `${fmtNumber(page.total)} patient(s)${page.total > page.items.length ? `, les ${page.items.length} premiers affichés (le fichier CSV les contient tous)` : ''}.`),
    table('Patients sans médecin proposé', [
      ['Patient (pseudonyme)', (u) => u.patient_id],
      ['Niveau', (u) => `${u.tier} — ${TIERS[u.tier - 1]}`],
      ['Raison', (u) => REASONS[u.reason] || u.reason],
      ['Explication', (u) => explication(u.detail)],
    ], page.items, { empty: 'Aucun patient ne correspond à ces filtres.' }),
  );
}

async function loadPipeline(simulation) {
  if (simulation) {
    document.getElementById('pipeline').replaceChildren(el('p', {}, 'Une simulation ne s\'envoie pas aux médecins : elle montre le manque si ces médecins partaient.'));
    return;
  }
  const counts = await Promise.all(Object.keys(STATES).map(async (s) => [s, (await api('GET', `/proposals?batch=${id}&state=${s}&limit=1`)).total ?? 0]));
  const total = counts.reduce((n, [, c]) => n + c, 0);
  const box = document.getElementById('pipeline');
  if (!total) {
    const button = el('button', { class: 'fr-btn', type: 'button' }, 'Envoyer les propositions aux médecins');
    button.addEventListener('click', () => guarded(async () => {
      button.disabled = true;
      const done = await api('POST', `/batches/${id}/commit`);
      announce(`${fmtNumber(done.proposals)} propositions envoyées ; les médecins répondent avant le ${fmtDateTime(done.deadline)}.`, 'success');
      await loadPipeline();
    }));
    box.replaceChildren(el('p', {}, 'Les propositions de ce lot n\'ont pas encore été envoyées aux médecins.'), button);
    return;
  }
  box.replaceChildren(el('ul', { class: 'fr-badges-group' }, counts.map(([s, c]) => el('li', {}, badge(`${STATES[s]} : ${fmtNumber(c)}`, s === 'refused' || s === 'expired' ? 'warning' : s === 'attached' ? 'success' : 'info')))));
}

function whatIf(job, data) {
  const doctors = data.doctors.filter((d) => d.assigned > 0).sort((a, b) => b.assigned - a.assigned).slice(0, 12);
  const box = document.getElementById('medecins-simulation');
  if (job.result?.territory?.without?.length) {
    box.replaceChildren(el('p', {}, 'Ce lot est déjà une simulation.'));
    document.querySelector('#form-simulation button').hidden = true;
    return;
  }
  box.replaceChildren(el('fieldset', { class: 'fr-fieldset' },
    el('legend', { class: 'fr-fieldset__legend fr-text--regular' }, 'Médecins ayant reçu le plus de patients dans ce lot'),
    doctors.map((d) => el('div', { class: 'fr-fieldset__element' }, el('div', { class: 'fr-checkbox-group fr-checkbox-group--sm' },
      el('input', { type: 'checkbox', id: `sans-${d.rpps}`, name: 'without', value: d.rpps }),
      el('label', { class: 'fr-label', for: `sans-${d.rpps}` }, `${d.name} — ${d.assigned} patient(s) proposé(s), ${d.capacity} place(s)`))))));
  onSubmit(document.getElementById('form-simulation'), async (form) => {
    const without = form.getAll('without');
    if (!without.length) throw new Error('Cochez au moins un médecin.');
    const simulation = await api("POST", "/batches", { territory: { insee: data.communes.map((c) => c.insee) }, without });
    announce('Simulation lancée : vous serez conduit à son lot dès qu\'il sera terminé.', 'info');
    await waitForJob(simulation);
    window.location.assign(`/app/cpam/lots/${simulation.id}`);
  });
}

guarded(async () => {
  const job = await api('GET', `/jobs/${id}`);
  document.getElementById('etat-lot').replaceChildren(summary(job));
  if (job.status !== 'succeeded') return;
  document.getElementById('filtre-niveau').addEventListener('change', () => guarded(loadUnmatched));
  document.getElementById('filtre-raison').addEventListener('change', () => guarded(loadUnmatched));
  document.getElementById('telecharger').addEventListener('click', () => guarded(async () => {
    const q = unmatchedQuery();
    await download(`/batches/${id}/unmatched${q ? `?${q}` : ''}`, 'text/csv', `sans-medecin-${id}.csv`);
  }));
  const simulation = Boolean(job.result?.territory?.without?.length);
  const [data] = await Promise.all([api('GET', `/batches/${id}/map`), loadUnmatched(), loadPipeline(simulation)]);
  whatIf(job, data);
  await drawMap(data);
});
