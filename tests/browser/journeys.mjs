// The web app's journeys, one per role, in Debian's chromium driven by playwright-core, against
// a real `cpts serve` seeded by tests/api/browser.rs (which runs this script and passes, in the
// environment: BASE_URL, TOKENS (JSON, one API token per role), PLAN (a computed garde plan),
// DOCTOR (the GP the batch proposes patients to), OUT (where screenshots go), CHROMIUM).
//
// Each journey signs in with its token on the sign-in page, does its job through the screens,
// checks the result on the page, runs axe-core (no serious or critical violation allowed),
// reads the Navigation Timing of each page, and ends with a full-page screenshot.
// Elements are found by role and label, as a person finds them.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const { BASE_URL, OUT, CHROMIUM = '/usr/bin/chromium', PLAN, DOCTOR, SCALE_BATCH } = process.env;
const TOKENS = JSON.parse(process.env.TOKENS);
const report = { timings: [], axe: [], journeys: [] };
mkdirSync(OUT, { recursive: true });

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run'],
});

/** The page's timings: Navigation Timing, and when its data was on screen. */
async function timing(page, label, dataShown) {
  const t = await page.evaluate((shown) => {
    const nav = performance.getEntriesByType('navigation')[0];
    return {
      ttfb_ms: Math.round(nav.responseStart),
      dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
      load_ms: Math.round(nav.loadEventEnd),
      data_shown_ms: shown === null ? null : Math.round(shown),
    };
  }, dataShown);
  report.timings.push({ page: label, ...t });
}

/** Milliseconds from the navigation's start until `locator` is visible. */
async function shownAfterNavigation(page, locator) {
  await locator.first().waitFor({ state: 'visible', timeout: 30_000 });
  return page.evaluate(() => performance.now());
}

async function axe(page, label) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  report.axe.push({
    page: label,
    passes: result.passes.length,
    violations: result.violations.map((v) => `${v.id} (${v.impact}, ${v.nodes.length})`),
  });
  assert.equal(bad.length, 0, `${label}: ${JSON.stringify(bad.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.html) })), null, 1)}`);
}

async function signIn(role) {
  const context = await browser.newContext({ bypassCSP: true, locale: 'fr-FR', timezoneId: 'Europe/Paris', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`${role}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${role}: console: ${m.text()}`); });
  page.on('response', async (r) => { if (r.status() >= 400) console.error(`${role}: ${r.status()} ${r.url()} ${await r.text().catch(() => '')}`); });
  page.on('requestfailed', (r) => console.error(`${role}: failed ${r.url()} ${r.failure()?.errorText}`));
  await page.goto(`${BASE_URL}/app/`);
  await page.getByLabel('Jeton d\'accès').fill(TOKENS[role]);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/app/connexion'));
  return { context, page, problems };
}

async function journey(role, steps) {
  const started = Date.now();
  const { context, page, problems } = await signIn(role);
  try {
    await steps(page);
    await page.screenshot({ path: `${OUT}/${role}.png`, fullPage: true });
    // 401 answers of the sign-in check and the like are the page's own business; a script
    // error is not.
    assert.deepEqual(problems.filter((p) => !p.includes('401')), [], `${role}: errors in the page`);
    report.journeys.push({ role, ok: true, seconds: (Date.now() - started) / 1000 });
  } catch (e) {
    await page.screenshot({ path: `${OUT}/${role}-failed.png`, fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
}

const alert = (page, text) => page.locator('.fr-alert').filter({ hasText: text }).first().waitFor({ timeout: 60_000 });

/**
 * The scale check (SCALE_BATCH: a batch of about a million patients): its page's first render,
 * and a map of one circle per commune, never one marker per patient.
 */
async function scale() {
  await journey('cpam', async (page) => {
    await page.goto(`${BASE_URL}/app/cpam/lots/${SCALE_BATCH}`);
    await timing(page, 'cpam: lot à grande échelle (carte)', await shownAfterNavigation(page, page.locator('#carte[data-communes]')));
    const communes = Number(await page.locator('#carte').getAttribute('data-communes'));
    const markers = Number(await page.locator('#carte').getAttribute('data-marqueurs'));
    const summary = await page.locator('#carte-resume').textContent();
    report.scale = { batch: SCALE_BATCH, communes_on_map: communes, markers_on_map: markers, summary };
  });
}

try {
  if (SCALE_BATCH) {
    await scale();
  } else {
    await journey('cpam', async (page) => {
      assert.match(page.url(), /\/app\/cpam$/);
      await timing(page, 'cpam: tableau de bord', await shownAfterNavigation(page, page.locator('.app-kpi')));
      // Attachments per month: the last twelve, this month last.
      assert.equal(await page.locator('#rattachements-mois .app-bar').count(), 12);
      await page.screenshot({ path: `${OUT}/cpam-tableau-de-bord.png`, fullPage: true });
      await axe(page, 'cpam: tableau de bord');
      await page.getByLabel('CPTS', { exact: true }).selectOption('grand_nancy');
      await page.getByRole('button', { name: 'Lancer le lot' }).click();
      await alert(page, 'Lot terminé');
      await page.getByRole('link', { name: 'Voir le lot' }).first().click();
      await page.waitForURL(/\/app\/cpam\/lots\//);
      await timing(page, 'cpam: lot (carte)', await shownAfterNavigation(page, page.locator('#carte[data-communes]')));
      const circles = Number(await page.locator('#carte').getAttribute('data-communes'));
      assert.ok(circles > 10, `communes on the map: ${circles}`);
      await page.getByText(/communes, .* patients, .* sans médecin/).waitFor();
      // On nancy every unmatched patient is of tier 3 (the README's batch): the filters show them,
      // then none.
      const unmatched = page.locator('#liste-sans-medecin');
      await page.getByLabel('Niveau de priorité').selectOption('3');
      await page.getByLabel('Raison').selectOption('capacity_exhausted');
      await unmatched.getByText(/^3\s900 patient/).waitFor();
      await page.getByLabel('Niveau de priorité').selectOption('1');
      await unmatched.getByText('Aucun patient ne correspond à ces filtres.').waitFor();
      await axe(page, 'cpam: lot');
      // The what-if, by keyboard: tick the doctor who received the most patients, simulate, land
      // on the simulation's batch, whose unmatched patients are explained in French and which
      // cannot be sent; then back to the batch, whose proposals are sent.
      await page.getByLabel('Niveau de priorité').selectOption('');
      await page.getByLabel('Raison').selectOption('');
      const first = page.locator('#form-simulation input[type=checkbox]').first();
      await first.focus();
      await page.keyboard.press('Space');
      assert.ok(await first.isChecked(), 'the space bar ticks the doctor');
      await page.getByRole('button', { name: 'Simuler sans ces médecins' }).focus();
      const before = page.url();
      await page.keyboard.press('Enter');
      await page.waitForURL((u) => u.href !== before && /\/app\/cpam\/lots\//.test(u.pathname), { timeout: 120_000 });
      await page.getByText('Simulation : 1 médecin(s) retiré(s).').waitFor();
      await page.locator('#liste-sans-medecin').getByText(/médecin\(s\) à distance, tous complets/).first().waitFor();
      await page.getByText('Une simulation ne s\'envoie pas aux médecins', { exact: false }).waitFor();
      await page.goto(before);
      await page.locator('#carte[data-communes]').waitFor();
      await page.getByRole('button', { name: 'Envoyer les propositions aux médecins' }).click();
      await alert(page, 'propositions envoyées');
      await page.getByText(/Proposée : /).waitFor();
    });

    await journey('medecin', async (page) => {
      assert.match(page.url(), /\/app\/medecin$/);
      await timing(page, 'médecin: mon espace', await shownAfterNavigation(page, page.getByRole('button', { name: /^Accepter / })));
      await axe(page, 'médecin: mon espace');
      const accept = page.getByRole('button', { name: /^Accepter / }).first();
      const label = await accept.textContent();
      await accept.click();
      await alert(page, `Vous avez accepté ${label.replace('Accepter ', '')}`);
      await page.getByLabel('Places pour de nouveaux patients').fill('12');
      await page.locator('#form-capacite').getByRole('button', { name: 'Enregistrer' }).click();
      await alert(page, 'Capacité enregistrée');
      await page.getByRole('button', { name: 'Mois suivant' }).click();
      const evening = page.getByRole('button', { name: /cliquer pour vous déclarer disponible/ }).first();
      const day = (await evening.getAttribute('aria-label')).split(',')[0];
      await evening.click();
      await alert(page, `Disponibilité déclarée : ${day}`);
      await page.getByRole('button', { name: new RegExp(`^${day}.*disponible, cliquer pour retirer`) }).waitFor();
      assert.ok(DOCTOR);
    });

    await journey('coordinateur', async (page) => {
      assert.match(page.url(), /\/app\/coordination$/);
      await timing(page, 'coordination: plannings', await shownAfterNavigation(page, page.getByRole('link', { name: 'Ouvrir le calendrier' })));
      await axe(page, 'coordination');
      await page.goto(`${BASE_URL}/app/coordination/plannings/${PLAN}`);
      await timing(page, 'coordination: calendrier', await shownAfterNavigation(page, page.locator('.app-shift')));
      await page.getByText(/À POURVOIR/).first().waitFor();
      await page.getByLabel('Vue', { exact: true }).selectOption('semaine');
      await page.getByRole('heading', { name: /Semaine du/ }).waitFor();
      await axe(page, 'coordination: calendrier');
      await page.getByRole('button', { name: 'Publier le planning' }).click();
      await alert(page, 'Planning publié');
      await page.getByLabel('Vue', { exact: true }).selectOption('mois');
    });

    await journey('regulateur', async (page) => {
      assert.match(page.url(), /\/app\/regulation$/);
      await timing(page, 'régulation', await shownAfterNavigation(page, page.locator('#carte[data-communes-drawn]')));
      await page.getByRole('combobox', { name: /Commune du patient/ }).fill('Nanc');
      await page.getByRole('option', { name: /^Nancy \(54\)/ }).click();
      const hold = page.getByRole('button', { name: 'Bloquer ce créneau' });
      await hold.first().waitFor();
      await page.locator('#liste-creneaux[data-live="true"]').waitFor();
      // Another régulateur books the second slot through the API: it vanishes from the list.
      const rows = page.locator('#liste-creneaux tbody tr');
      const before = await rows.count();
      const search = await fetch(`${BASE_URL}/slots?insee=54395&radius_km=30&to=${encodeURIComponent(new Date(Date.now() + 14 * 86400000).toISOString())}&limit=50`, { headers: { authorization: `Bearer ${TOKENS.regulateur2}` } }).then((r) => r.json());
      const taken = search.items[1].slot_id;
      const booked = await fetch(`${BASE_URL}/slots/${taken}/bookings`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS.regulateur2}`, 'content-type': 'application/json' }, body: JSON.stringify({ patient_ref: 'C15-AILLEURS-1' }) });
      assert.equal(booked.status, 201);
      await page.waitForFunction((n) => document.querySelectorAll('#liste-creneaux tbody tr').length === n - 1, before, { timeout: 15_000 });
      await hold.first().click();
      await page.getByRole('timer').waitFor();
      await page.getByLabel(/Référence du patient/).fill('C15-TEST-0001');
      await page.getByRole('button', { name: 'Réserver' }).click();
      await alert(page, 'Réservé');
      await page.getByRole('cell', { name: 'C15-TEST-0001', exact: true }).waitFor();
      await axe(page, 'régulation');
      await page.getByRole('button', { name: 'Annuler la réservation de C15-TEST-0001' }).click();
      await alert(page, 'annulée');
      // A SMART Scheduling Links deep link (public manifest, then the Slot file) opens the page
      // on its slot, marked and focused.
      const manifest = await fetch(`${BASE_URL}/fhir/$bulk-publish`).then((r) => r.json());
      const slotFile = manifest.output.find((o) => o.type === 'Slot').url;
      const published = (await fetch(slotFile).then((r) => r.text())).trim().split('\n').map((l) => JSON.parse(l));
      const free = published.filter((s) => s.status === 'free');
      assert.ok(free.length > 0, 'the Slot file lists free slots');
      const wanted = free[free.length - 1];
      await page.goto(wanted.extension[0].valueUrl);
      await page.getByText('Créneau demandé', { exact: true }).waitFor();
      const focused = await page.evaluate(() => document.activeElement?.id);
      assert.equal(focused, `bloquer-${wanted.id}`);
      report.deepLink = { slot: wanted.id, freeSlotsPublished: free.length, focused };
    });

    await journey('auditeur', async (page) => {
      assert.match(page.url(), /\/app\/audit$/);
      await timing(page, 'audit', await shownAfterNavigation(page, page.getByRole('cell', { name: 'booking.create', exact: true }).first()));
      await axe(page, 'audit');
    });

    await journey('admin', async (page) => {
      assert.match(page.url(), /\/app\/admin$/);
      await timing(page, 'admin', await shownAfterNavigation(page, page.getByRole('cell', { name: /Grand Nancy/ })));
      await axe(page, 'admin');
    });
  }
} finally {
  await browser.close();
  console.log(JSON.stringify(report, null, 1));
}
