// GPs: capacity and distance limit, garde limits, the proposals to accept or refuse, the
// availability calendar (click to declare or withdraw), wishes, my shifts with the iCalendar
// link, and the swap board.
import {
  api, el, announce, fmtDateTime, fmtDay, fmtKm, fmtNumber, table, guarded, onSubmit, myRpps, badge,
} from '../app.js';

const rpps = myRpps();
const REASONS = [['capacity', 'Plus de place'], ['distance', 'Trop loin'], ['profile', 'Profil de patientèle'], ['other', 'Autre raison']];
const TIERS = ['ALD', '70 ans et plus ou C2S', 'Autre'];
let month = (() => { const d = new Date(); return new Date(Date.UTC(d.getFullYear(), d.getMonth(), 1)); })();
let windows = [];

const iso = (d) => d.toISOString().slice(0, 10);
const paris = (day, time) => `${day}T${time}:00`;

async function loadDoctor() {
  const doctor = await api('GET', `/doctors/${rpps}`);
  document.getElementById('capacite').value = doctor.capacity;
  document.getElementById('distance').value = doctor.max_km ?? '';
  const garde = await api('GET', `/doctors/${rpps}/garde`);
  document.getElementById('max-gardes').value = garde.max_shifts ?? '';
  document.getElementById('garde-km').value = garde.max_km ?? '';
  return garde;
}

async function loadProposals() {
  const page = await api('GET', '/proposals?state=proposed&limit=20');
  if (page.places) {
    document.getElementById('places').textContent = `Places déclarées : ${fmtNumber(page.places.declared)} ; occupées par des propositions ou des rattachements : ${fmtNumber(page.places.held)} ; restantes : ${fmtNumber(page.places.left)}.`;
  }
  document.getElementById('liste-propositions').replaceChildren(
    el('p', { class: 'fr-text--sm' }, `${fmtNumber(page.total ?? page.items.length)} proposition(s) en attente${(page.total ?? 0) > page.items.length ? `, les ${page.items.length} premières ci-dessous` : ''}.`),
    table('Propositions en attente de réponse', [
    ['Patient (pseudonyme)', (p) => p.patient_id],
    ['Priorité', (p) => `${p.tier} — ${TIERS[p.tier - 1]}`],
    ['Commune', (p) => p.insee],
    ['Distance', (p) => fmtKm(p.distance_m)],
    ['Répondre avant', (p) => fmtDateTime(p.deadline)],
    ['Réponse', (p) => {
      const select = el('select', { class: 'fr-select', id: `motif-${p.id}`, 'aria-label': `Motif du refus pour ${p.patient_id}` }, REASONS.map(([v, l]) => el('option', { value: v }, l)));
      return el('div', {},
        el('ul', { class: 'fr-btns-group fr-btns-group--inline-sm' },
          el('li', {}, el('button', { class: 'fr-btn fr-btn--sm', type: 'button', onclick: () => guarded(async () => { await api('POST', `/proposals/${p.id}/accept`); announce(`Vous avez accepté ${p.patient_id}.`, 'success'); await loadProposals(); }) }, `Accepter ${p.patient_id}`)),
          el('li', {}, el('button', { class: 'fr-btn fr-btn--sm fr-btn--secondary', type: 'button', onclick: () => guarded(async () => { await api('POST', `/proposals/${p.id}/refuse`, { reason: select.value }); announce(`Vous avez refusé ${p.patient_id} ; il ne vous sera plus proposé.`, 'info'); await loadProposals(); }) }, `Refuser ${p.patient_id}`))),
        select);
    }],
  ], page.items, { empty: 'Aucune proposition en attente.' }),
  );
}

/** The garde shifts of a day: weekday evenings 18h–20h, Saturday mornings 9h–13h. */
function shiftOf(date) {
  const dow = date.getUTCDay();
  if (dow >= 1 && dow <= 5) return ['18:00', '20:00', 'Soirée 18 h – 20 h'];
  if (dow === 6) return ['09:00', '13:00', 'Matinée 9 h – 13 h'];
  return null;
}

function covering(day, [start, end]) {
  const s = new Date(`${paris(day, start)}Z`).getTime();
  const e = new Date(`${paris(day, end)}Z`).getTime();
  // Windows come back with their Paris offset: compare wall times.
  return windows.find((w) => {
    const ws = new Date(`${w.start.slice(0, 19)}Z`).getTime();
    const we = new Date(`${w.end.slice(0, 19)}Z`).getTime();
    return !w.withdrawn_at && ws <= s && we >= e;
  });
}

async function loadWindows() {
  const answer = await api('GET', `/doctors/${rpps}/availability`);
  windows = Array.isArray(answer) ? answer : answer.items || [];
}

function renderCalendar() {
  const title = month.toLocaleDateString('fr-FR', { month: 'long', year: 'numeric', timeZone: 'UTC' });
  document.getElementById('dispo-mois').textContent = title.charAt(0).toUpperCase() + title.slice(1);
  const first = new Date(month);
  const offset = (first.getUTCDay() + 6) % 7;
  const cells = ['Lun', 'Mar', 'Mer', 'Jeu', 'Ven', 'Sam', 'Dim'].map((d) => el('div', { class: 'app-calendar__head', 'aria-hidden': 'true' }, d));
  for (let i = 0; i < offset; i += 1) cells.push(el('div', { class: 'app-calendar__day app-calendar__day--out' }));
  const today = iso(new Date());
  for (let d = new Date(first); d.getUTCMonth() === first.getUTCMonth(); d = new Date(d.getTime() + 86_400_000)) {
    const day = iso(d);
    const shift = shiftOf(d);
    const cell = el('div', { class: 'app-calendar__day' }, el('div', { class: 'app-calendar__date' }, String(d.getUTCDate())));
    if (shift && day >= today) {
      const window = covering(day, shift);
      const label = `${fmtDay(day)}, ${shift[2]} : ${window ? 'disponible, cliquer pour retirer' : 'cliquer pour vous déclarer disponible'}`;
      cell.append(el('button', {
        class: `fr-btn fr-btn--sm ${window ? '' : 'fr-btn--tertiary'}`,
        type: 'button',
        'aria-pressed': window ? 'true' : 'false',
        'aria-label': label,
        title: label,
        onclick: () => guarded(async () => {
          if (window) {
            await api('DELETE', `/doctors/${rpps}/availability/${window.id}`);
            announce(`Disponibilité retirée : ${fmtDay(day)}.`, 'info');
          } else {
            await api('POST', `/doctors/${rpps}/availability`, { start: paris(day, shift[0]), end: paris(day, shift[1]) });
            announce(`Disponibilité déclarée : ${fmtDay(day)}, ${shift[2]}.`, 'success');
          }
          await loadWindows();
          renderCalendar();
        }),
      }, window ? 'Disponible' : shift[2].split(' ')[0]));
    }
    cells.push(cell);
  }
  document.getElementById('calendrier-dispo').replaceChildren(el('div', { class: 'app-calendar', role: 'group', 'aria-label': `Disponibilités de ${title}` }, cells));
}

function renderPreferences(garde) {
  const form = el('form', { class: 'fr-grid-row fr-grid-row--gutters fr-grid-row--bottom', novalidate: true },
    el('div', { class: 'fr-input-group fr-col-12 fr-col-md-4' }, el('label', { class: 'fr-label', for: 'pref-date' }, 'Date'), el('input', { class: 'fr-input', type: 'date', id: 'pref-date', name: 'date', required: true, 'data-pointer': '/date' })),
    el('div', { class: 'fr-select-group fr-col-12 fr-col-md-4' }, el('label', { class: 'fr-label', for: 'pref-souhait' }, 'Souhait'),
      el('select', { class: 'fr-select', id: 'pref-souhait', name: 'preference', 'data-pointer': '/preference' }, el('option', { value: 'prefer' }, 'Je préfère être de garde'), el('option', { value: 'avoid' }, 'J\'évite ce jour'))),
    el('div', { class: 'fr-col-12 fr-col-md-4' }, el('button', { class: 'fr-btn fr-btn--secondary', type: 'submit' }, 'Enregistrer le souhait')));
  onSubmit(form, async (data) => {
    await api('PUT', `/doctors/${rpps}/garde/preferences/${data.get('date')}`, { preference: data.get('preference') });
    announce('Souhait enregistré.', 'success');
    renderPreferences(await api('GET', `/doctors/${rpps}/garde`));
  });
  document.getElementById('mes-preferences').replaceChildren(
    table('Mes souhaits', [
      ['Date', (p) => fmtDay(p.date)],
      ['Souhait', (p) => (p.preference === 'prefer' ? badge('Préfère', 'success') : badge('Évite', 'warning'))],
    ], garde.preferences, { empty: 'Aucun souhait déclaré.' }),
    form,
  );
}

function renderShifts(garde) {
  document.getElementById('mes-gardes').replaceChildren(table('Mes gardes à venir', [
    ['Début', (s) => fmtDateTime(s.start)],
    ['Fin', (s) => fmtDateTime(s.end).split(' à ').pop()],
    ['Cabinet', (s) => s.cabinet_id],
    ['Bourse', (s) => el('button', {
      class: 'fr-btn fr-btn--sm fr-btn--tertiary', type: 'button',
      onclick: () => guarded(async () => {
        await api('POST', '/garde/offers', { cabinet_id: s.cabinet_id, date: s.start.slice(0, 10) });
        announce('Garde proposée à la bourse : un confrère peut la prendre.', 'success');
        await loadOffers();
      }),
    }, 'Proposer à un confrère')],
  ], garde.shifts, { empty: 'Aucune garde à venir.' }));
}

async function loadOffers() {
  const view = await api('GET', '/garde/offers');
  const offer = (o) => `${fmtDateTime(o.start)}, ${o.cabinet_id}`;
  document.getElementById('liste-bourse').replaceChildren(
    table('Gardes proposées par des confrères', [
      ['Garde', offer],
      ['Proposée par', (o) => o.from_rpps],
      ['Action', (o) => el('button', { class: 'fr-btn fr-btn--sm', type: 'button', onclick: () => guarded(async () => { await api('POST', `/garde/offers/${o.id}/take`); announce('Garde reprise.', 'success'); await loadOffers(); }) }, 'Prendre cette garde')],
    ], view.available || [], { empty: 'Aucune garde proposée pour l\'instant.' }),
    table('Mes offres', [
      ['Garde', offer],
      ['État', (o) => o.state],
      ['Expire', (o) => fmtDateTime(o.expires_at)],
    ], view.offers || [], { empty: 'Aucune offre.' }),
  );
}

guarded(async () => {
  const [garde] = await Promise.all([loadDoctor(), loadProposals(), loadWindows()]);
  renderCalendar();
  renderPreferences(garde);
  renderShifts(garde);
  await loadOffers();
  onSubmit(document.getElementById('form-capacite'), async (data) => {
    const km = data.get('max_km');
    await api('PUT', `/doctors/${rpps}/capacity`, { capacity: Number(data.get('capacity')), max_km: km ? Number(km) : null });
    announce('Capacité enregistrée : elle vaut pour les prochains lots.', 'success');
    await loadProposals();
  });
  onSubmit(document.getElementById('form-garde'), async (data) => {
    const km = data.get('max_km');
    await api('PUT', `/doctors/${rpps}/garde`, { max_shifts: Number(data.get('max_shifts')), ...(km ? { max_km: Number(km) } : {}) });
    announce('Limites de garde enregistrées.', 'success');
  });
  document.getElementById('dispo-precedent').addEventListener('click', () => { month = new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() - 1, 1)); renderCalendar(); });
  document.getElementById('dispo-suivant').addEventListener('click', () => { month = new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1)); renderCalendar(); });
  document.getElementById('lien-agenda').addEventListener('click', () => guarded(async () => {
    const feed = await api('POST', `/doctors/${rpps}/calendar`);
    const url = `${window.location.origin}${feed.path}`;
    document.getElementById('agenda').replaceChildren(el('div', { class: 'fr-alert fr-alert--info fr-alert--sm' },
      el('p', {}, 'Abonnez votre agenda à cette adresse (elle n\'est montrée qu\'une fois ; en demander une nouvelle rend l\'ancienne inutilisable) : '),
      el('p', {}, el('code', {}, url))));
  }));
});
