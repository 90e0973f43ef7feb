// Régulateurs: find a free garde slot near the patient's commune, hold it (with its countdown),
// book it with the patient's pseudonymous reference; slots taken elsewhere vanish live
// (GET /slots/events); today's bookings, and cancel.
import {
  api, el, announce, fmtDateTime, fmtTime, fmtKm, table, guarded, parisMidnight, ApiProblem, onSubmit,
} from '../app.js';
import { createMap, drawCommunes, departementsOf } from '../map.js';
import { communeCombobox } from '../suggest.js';

const state = { where: null, slots: [], holds: new Map(), map: null, L: null, markers: null };
const list = document.getElementById('liste-creneaux');

/** The searched area, as both /slots and /slots/events take it. */
function areaQuery() {
  const radius = Number(document.getElementById('rayon').value) || 30;
  const base = state.where.insee ? `insee=${state.where.insee}` : `lat=${state.where.lat.toFixed(5)}&lon=${state.where.lon.toFixed(5)}`;
  return `${base}&radius_km=${radius}`;
}

function whereQuery() {
  const from = state.from ?? new Date();
  const to = new Date(from.getTime() + 14 * 86_400_000).toISOString();
  const since = state.from ? `&from=${encodeURIComponent(from.toISOString())}` : '';
  return `/slots?${areaQuery()}${since}&to=${encodeURIComponent(to)}&limit=${state.doctor ? 200 : 50}`;
}

async function search() {
  if (!state.where) { announce('Choisissez d\'abord une commune dans la liste, ou cliquez sur la carte.', 'warning'); return; }
  const page = await api('GET', whereQuery());
  const area = areaQuery();
  if (area !== state.area) { state.area = area; listen(); }
  state.slots = state.doctor ? page.items.filter((s) => s.rpps === state.doctor) : page.items;
  render();
  drawSlots(page);
}

/**
 * A link from outside opens the page on a cabinet (`lat`, `lon`, `lieu`): the SAS's agenda link
 * of a doctor (`medecin`: only his slots) or a SMART Scheduling Links deep link (`creneau`: the
 * slot to hold, marked and focused). False when the address names no place.
 */
function fromLink() {
  const q = new URLSearchParams(window.location.search);
  const lat = Number.parseFloat(q.get('lat') ?? '');
  const lon = Number.parseFloat(q.get('lon') ?? '');
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return false;
  state.where = { lat, lon, name: (q.get('lieu') || 'le cabinet demandé').slice(0, 120) };
  // From the slot's start (a deep link's `debut`), so that it heads the list.
  const from = new Date(q.get('debut') ?? '');
  state.from = Number.isNaN(from.getTime()) || from < new Date() ? null : from;
  const slot = Number.parseInt(q.get('creneau') ?? '', 10);
  state.wanted = Number.isInteger(slot) && slot > 0 ? slot : null;
  const rpps = q.get('medecin') ?? '';
  state.doctor = /^[0-9]{11}$/.test(rpps) ? rpps : null;
  return true;
}

/** After a search from a link: focus the slot asked for, or say it is gone. */
function focusWanted() {
  if (!state.wanted) return;
  const button = document.getElementById(`bloquer-${state.wanted}`);
  if (button) {
    button.scrollIntoView({ block: 'center' });
    button.focus();
  } else {
    announce('Le créneau demandé n\'est plus libre : voici les autres créneaux autour de ce cabinet.', 'warning');
  }
}

/** A new place chosen on the page: the filters of a link no longer apply. */
function forgetLink() {
  state.doctor = null;
  state.wanted = null;
  state.from = null;
}

function countdown(slotId, expiresAt, node) {
  const tick = () => {
    const left = Math.max(0, Math.round((new Date(expiresAt) - Date.now()) / 1000));
    node.textContent = `${Math.floor(left / 60)} min ${String(left % 60).padStart(2, '0')} s`;
    if (left === 0) {
      clearInterval(timer);
      state.holds.delete(slotId);
      announce('Le blocage du créneau a expiré : bloquez-le à nouveau pour réserver.', 'warning');
      render();
    }
  };
  const timer = setInterval(tick, 1000);
  tick();
  return timer;
}

function slotActions(slot) {
  const mine = state.holds.get(slot.slot_id);
  if (mine) {
    const remaining = el('span', { class: 'app-countdown', role: 'timer', 'aria-live': 'off' });
    clearInterval(mine.timer);
    mine.timer = countdown(slot.slot_id, mine.expires_at, remaining);
    const input = el('input', { class: 'fr-input', id: `ref-${slot.slot_id}`, name: 'patient_ref', required: true, 'data-pointer': '/patient_ref', autocomplete: 'off' });
    const form = el('form', { class: 'fr-mt-1w', novalidate: true },
      el('p', { class: 'fr-text--sm fr-mb-1w' }, 'Bloqué pour vous encore ', remaining, '.'),
      el('div', { class: 'fr-input-group' },
        el('label', { class: 'fr-label', for: `ref-${slot.slot_id}` }, 'Référence du patient',
          el('span', { class: 'fr-hint-text' }, 'Pseudonyme du dossier de régulation, jamais le NIR.')),
        input),
      el('ul', { class: 'fr-btns-group fr-btns-group--inline-sm' },
        el('li', {}, el('button', { class: 'fr-btn fr-btn--sm', type: 'submit' }, 'Réserver')),
        el('li', {}, el('button', { class: 'fr-btn fr-btn--sm fr-btn--secondary', type: 'button', onclick: () => guarded(() => release(slot)) }, 'Libérer'))));
    onSubmit(form, async () => book(slot, input.value.trim()));
    return form;
  }
  if (slot.held && !slot.held_by_you) return el('p', { class: 'fr-badge fr-badge--warning fr-badge--sm' }, 'En cours de réservation ailleurs');
  const button = el('button', { class: 'fr-btn fr-btn--sm fr-btn--secondary', type: 'button', id: `bloquer-${slot.slot_id}`, onclick: () => guarded(() => hold(slot)) }, 'Bloquer ce créneau');
  if (slot.slot_id !== state.wanted) return button;
  return el('div', {}, el('p', { class: 'fr-badge fr-badge--info fr-badge--sm fr-mb-1w' }, 'Créneau demandé'), button);
}

/** Redraws the list; a live update keeps the keyboard focus where it was, when its control remains. */
function render() {
  const focused = list.contains(document.activeElement) ? document.activeElement.id : '';
  draw();
  if (focused) document.getElementById(focused)?.focus();
}

function draw() {
  if (!state.slots.length) {
    list.replaceChildren(el('p', {}, `Aucun créneau libre dans ce rayon sur les 14 prochains jours${state.where ? ` autour de ${state.where.name}` : ''}.`));
    return;
  }
  list.replaceChildren(
    el('p', { class: 'fr-text--sm' }, `${state.slots.length} créneau(x)${state.doctor ? ` du médecin RPPS ${state.doctor}` : ''} autour de ${state.where.name}, par heure puis par distance.`),
    table('Créneaux libres', [
      ['Début', (s) => fmtDateTime(s.start)],
      ['Fin', (s) => fmtTime(s.end)],
      ['Cabinet', (s) => s.cabinet.name],
      ['Distance', (s) => fmtKm(s.distance_m)],
      ['Action', (s) => slotActions(s)],
    ], state.slots),
  );
}

async function hold(slot) {
  const view = await api('POST', `/slots/${slot.slot_id}/hold`);
  state.holds.set(slot.slot_id, { expires_at: view.expires_at });
  render();
  document.getElementById(`ref-${slot.slot_id}`)?.focus();
}

async function release(slot) {
  await api('DELETE', `/slots/${slot.slot_id}/hold`);
  clearInterval(state.holds.get(slot.slot_id)?.timer);
  state.holds.delete(slot.slot_id);
  render();
}

async function book(slot, patientRef) {
  const booking = await api('POST', `/slots/${slot.slot_id}/bookings`, { patient_ref: patientRef });
  clearInterval(state.holds.get(slot.slot_id)?.timer);
  state.holds.delete(slot.slot_id);
  state.slots = state.slots.filter((s) => s.slot_id !== slot.slot_id);
  render();
  announce(`Réservé : ${fmtDateTime(booking.slot.start)}, ${slot.cabinet.name}, pour ${booking.patient_ref} (réservation n° ${booking.booking_id}).`, 'success');
  await loadBookings();
}

function drawSlots(page) {
  if (!state.map) return;
  const { L, map } = state;
  state.markers?.remove();
  state.markers = L.layerGroup().addTo(map);
  const byCabinet = new Map();
  for (const s of page.items) {
    const c = byCabinet.get(s.cabinet.cabinet_id) || { cabinet: s.cabinet, slots: [] };
    c.slots.push(s);
    byCabinet.set(s.cabinet.cabinet_id, c);
  }
  L.circleMarker([page.lat, page.lon], { radius: 7, color: '#000091', fillColor: '#fff', fillOpacity: 1, weight: 3 })
    .bindTooltip('Patient').addTo(state.markers);
  for (const { cabinet, slots } of byCabinet.values()) {
    L.marker([cabinet.lat, cabinet.lon], { title: cabinet.name, alt: cabinet.name })
      .bindPopup(`<strong>${cabinet.name.replace(/[<>&]/g, '')}</strong><br>${slots.length} créneau(x), le premier ${fmtDateTime(slots[0].start)}`)
      .addTo(state.markers);
  }
  map.setView([page.lat, page.lon], 11);
}

async function loadBookings() {
  const from = parisMidnight();
  const page = await api('GET', `/bookings?from=${encodeURIComponent(from)}&limit=200`);
  document.getElementById('liste-reservations').replaceChildren(table('Réservations du jour', [
    ['Patient', (b) => b.patient_ref],
    ['Créneau', (b) => fmtDateTime(b.slot.start)],
    ['Cabinet', (b) => b.slot.cabinet_id],
    ['Réservé à', (b) => fmtTime(b.booked_at)],
    ['État', (b) => (b.cancelled_at ? `Annulée à ${fmtTime(b.cancelled_at)}` : 'Confirmée')],
    ['Action', (b) => (b.cancelled_at ? '' : el('button', {
      class: 'fr-btn fr-btn--sm fr-btn--tertiary', type: 'button',
      onclick: () => guarded(async () => {
        await api('DELETE', `/bookings/${b.booking_id}`);
        announce(`Réservation n° ${b.booking_id} annulée ; le créneau est de nouveau libre.`, 'info');
        await loadBookings();
        if (state.where) await search();
      }),
    }, `Annuler la réservation de ${b.patient_ref}`))],
  ], page.items, { empty: 'Aucune réservation aujourd\'hui.' }));
}

/** Listens to the slot events of the searched area (reopened when the area changes). */
function listen() {
  state.events?.close();
  const events = new EventSource(`/slots/events?${state.area}`);
  state.events = events;
  events.addEventListener('ready', () => { document.getElementById('liste-creneaux').dataset.live = 'true'; });
  const gone = (e) => {
    const data = JSON.parse(e.data);
    const id = data.slot_id ?? data.slot?.slot_id;
    if (state.holds.has(id)) return;
    const before = state.slots.length;
    state.slots = state.slots.filter((s) => s.slot_id !== id);
    if (state.slots.length !== before) render();
  };
  const heldElsewhere = (e) => {
    const data = JSON.parse(e.data);
    const slot = state.slots.find((s) => s.slot_id === data.slot_id);
    if (slot && !state.holds.has(slot.slot_id)) { slot.held = true; render(); }
  };
  let again = null;
  const refresh = () => { clearTimeout(again); again = setTimeout(() => guarded(search), 300); };
  events.addEventListener('booked', gone);
  events.addEventListener('withdrawn', gone);
  events.addEventListener('held', heldElsewhere);
  for (const kind of ['released', 'freed', 'published', 'swapped', 'moved']) {
    events.addEventListener(kind, () => { if (state.where) refresh(); });
  }
}

guarded(async () => {
  const scope = document.body.dataset.scope || '';
  const dep = scope.startsWith('dep:') ? scope.slice(4).split(',')[0] : undefined;
  communeCombobox(document.getElementById('commune'), document.getElementById('commune-suggestions'), (c) => {
    document.getElementById('commune').value = c.name;
    state.where = { insee: c.insee, name: c.name };
    forgetLink();
    guarded(search);
  });
  document.getElementById('form-recherche').addEventListener('submit', (e) => { e.preventDefault(); guarded(search); });
  await loadBookings();
  const { L, map } = await createMap(document.getElementById('carte'));
  state.L = L;
  state.map = map;
  map.on('click', (e) => {
    state.where = { lat: e.latlng.lat, lon: e.latlng.lng, name: 'le point choisi' };
    forgetLink();
    guarded(search);
  });
  await drawCommunes(L, map, dep ? [dep] : departementsOf(['54']));
  if (fromLink()) {
    document.getElementById('commune').value = state.where.name;
    await search();
    focusWanted();
  }
}).catch((e) => { if (!(e instanceof ApiProblem)) console.error(e); });
