// Auditors: the audit trail of their territory, oldest first, page after page.
import { api, el, fmtDateTime, table, guarded } from '../app.js';

let next = '/audit?limit=100';
const rows = [];

async function more() {
  const page = await api('GET', next);
  rows.push(...page.items);
  next = page.next;
  document.getElementById('journal').replaceChildren(table('Journal d\'audit', [
    ['N°', (a) => a.id],
    ['Date', (a) => fmtDateTime(a.at)],
    ['Action', (a) => a.action],
    ['Objet', (a) => `${a.object_kind}${a.object_id ? ` ${a.object_id}` : ''}`],
    ['Auteur', (a) => (a.role ? `${a.role} (${a.token_id})` : 'service')],
    ['Territoire', (a) => a.scope || ''],
    ['Détail', (a) => el('code', {}, JSON.stringify(a.detail))],
  ], rows, { empty: 'Aucune écriture dans votre territoire.' }));
  document.getElementById('plus').hidden = !next;
}

document.getElementById('plus').addEventListener('click', () => guarded(more));
guarded(more);
