// Autocompletion of commune names (GET /communes), as an accessible combobox: arrows move,
// Entrée chooses, Échap closes.
import { api, el } from './app.js';

export function communeCombobox(input, list, onChoose, options = {}) {
  let items = [];
  let active = -1;
  let timer = null;
  const close = () => { list.hidden = true; input.setAttribute('aria-expanded', 'false'); active = -1; input.removeAttribute('aria-activedescendant'); };
  const render = () => {
    list.replaceChildren(...items.map((c, i) => el('li', {
      id: `${list.id}-${i}`,
      role: 'option',
      'aria-selected': i === active ? 'true' : 'false',
      onmousedown: (e) => { e.preventDefault(); choose(i); },
    }, `${c.name} (${c.insee.slice(0, c.insee.startsWith('97') ? 3 : 2)}) — ${c.insee}`)));
    list.hidden = items.length === 0;
    input.setAttribute('aria-expanded', items.length ? 'true' : 'false');
    if (active >= 0) input.setAttribute('aria-activedescendant', `${list.id}-${active}`);
  };
  function choose(i) {
    const c = items[i];
    if (!c) return;
    close();
    onChoose(c);
  }
  input.addEventListener('input', () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2) { items = []; render(); return; }
    timer = setTimeout(async () => {
      const dep = options.departement ? `&departement=${encodeURIComponent(options.departement)}` : '';
      items = await api('GET', `/communes?q=${encodeURIComponent(q)}&limit=10${dep}`);
      active = items.length ? 0 : -1;
      render();
    }, 150);
  });
  input.addEventListener('keydown', (e) => {
    if (list.hidden) return;
    if (e.key === 'ArrowDown') { active = Math.min(items.length - 1, active + 1); render(); e.preventDefault(); }
    if (e.key === 'ArrowUp') { active = Math.max(0, active - 1); render(); e.preventDefault(); }
    if (e.key === 'Enter') { e.preventDefault(); choose(active); }
    if (e.key === 'Escape') close();
  });
  input.addEventListener('blur', () => setTimeout(close, 150));
}
