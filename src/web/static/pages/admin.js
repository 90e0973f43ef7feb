// Admins: the territories (CPTS) and the roles granted to people who sign in.
import { api, el, fmtDateTime, table, guarded } from '../app.js';

guarded(async () => {
  const [territories, grants] = await Promise.all([api('GET', '/territories'), api('GET', '/grants')]);
  document.getElementById('liste-territoires').replaceChildren(table('Territoires', [
    ['CPTS', (t) => `${t.name} (${t.id})`],
    ['FINESS', (t) => t.finess || ''],
    ['Départements', (t) => t.departements.join(', ')],
    ['Communes', (t) => t.communes.length],
    ['Approbation des échanges', (t) => (t.swap_approval ? 'Oui' : 'Non')],
  ], territories));
  const list = grants.items || grants;
  document.getElementById('liste-habilitations').replaceChildren(table('Habilitations', [
    ['Identité', (g) => g.identity],
    ['Rôle', (g) => g.role],
    ['Territoire', (g) => g.scope],
    ['Depuis', (g) => fmtDateTime(g.created_at)],
    ['État', (g) => (g.revoked_at ? `Révoquée le ${fmtDateTime(g.revoked_at)}` : el('span', {}, 'Active'))],
  ], list, { empty: 'Aucune habilitation.' }));
});
