// Leaflet maps without a tile server: the base layer is the commune list the binary carries
// (GET /communes), drawn as small grey points; a tile server is used only when the deployment
// configured one (--map-tiles, the page's data-tiles).
import { api } from './app.js';

/** Waits for Leaflet (a deferred classic script) to be there. */
async function leaflet() {
  for (let i = 0; i < 100 && !window.L; i += 1) {
    // eslint-disable-next-line no-await-in-loop
    await new Promise((resolve) => { setTimeout(resolve, 20); });
  }
  if (!window.L) throw new Error('La carte n\'a pas pu être chargée.');
  return window.L;
}

/** A map in `element`, centred on `center`, with our base layer. */
export async function createMap(element, center = [48.69, 6.18], zoom = 10) {
  const L = await leaflet();
  L.Icon.Default.imagePath = `${document.querySelector('link[href*="leaflet.css"]').href.replace(/leaflet\.css$/, '')}images/`;
  const map = L.map(element, { preferCanvas: true, zoomControl: true, attributionControl: true }).setView(center, zoom);
  const tiles = document.body.dataset.tiles;
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: 18, attribution: 'Fond de carte : serveur configuré' }).addTo(map);
  }
  map.attributionControl.setPrefix('Leaflet · Communes : INSEE, COG 2026');
  return { L, map };
}

const drawn = new Set();

/** Draws the communes of `departements` as the base layer (once each). */
export async function drawCommunes(L, map, departements) {
  const layer = L.layerGroup().addTo(map);
  for (const dep of departements) {
    if (drawn.has(dep)) continue;
    drawn.add(dep);
    // eslint-disable-next-line no-await-in-loop
    const communes = await api('GET', `/communes?departement=${encodeURIComponent(dep)}&limit=2000`);
    for (const c of communes) {
      const big = (c.population || 0) >= 10000;
      L.circleMarker([c.lat, c.lon], {
        radius: big ? 3 : 1.5,
        color: '#929292',
        weight: 0,
        fillColor: '#929292',
        fillOpacity: big ? 0.9 : 0.6,
        interactive: false,
      }).addTo(layer);
      if (big) {
        L.tooltip({ permanent: true, direction: 'right', className: 'app-commune-label', offset: [4, 0] })
          .setLatLng([c.lat, c.lon]).setContent(c.name).addTo(layer);
      }
    }
  }
  map.getContainer().dataset.communesDrawn = String(drawn.size);
  return layer;
}

/** Départements of INSEE codes (2A/2B, and the overseas 97x). */
export function departementsOf(codes) {
  return [...new Set(codes.map((c) => (c.startsWith('97') ? c.slice(0, 3) : c.slice(0, 2))))];
}

/** Green (0) to orange to red (1): the share left without a doctor. */
export function shareColour(share) {
  if (share <= 0.1) return '#18753c';
  if (share <= 0.35) return '#66673d';
  if (share <= 0.65) return '#b34000';
  return '#ce0500';
}
