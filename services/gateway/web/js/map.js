// The map: London's borough and ward boundaries from geo, optional tiles (a gateway setting,
// off by default), wards that can be clicked, and circles drawn round a place.
import * as L from "/vendor/leaflet/leaflet-src.esm.js";

const LONDON = [51.5072, -0.1276];
const cache = new Map();

function fetchJson(url) {
  if (!cache.has(url)) {
    cache.set(
      url,
      fetch(url, { headers: { accept: "application/json, application/geo+json" } }).then((r) => {
        if (!r.ok) throw new Error(`Could not load the map (${r.status}).`);
        return r.json();
      }),
    );
  }
  return cache.get(url);
}

// The setting is an origin (the Content-Security-Policy allows images from it), tiles under it.
function tileTemplate(origin) {
  return `${origin.replace(/\/$/, "")}/{z}/{x}/{y}.png`;
}

const WARD_STYLE = {
  color: "#5c3a0e",
  weight: 1,
  opacity: 0.7,
  fillColor: "#f6efe6",
  fillOpacity: 0.15,
};
const SELECTED_STYLE = {
  color: "#1d4f91",
  weight: 3,
  opacity: 1,
  fillColor: "#1d4f91",
  fillOpacity: 0.35,
};
const WATCHED_STYLE = {
  color: "#1e6b34",
  weight: 2,
  opacity: 1,
  fillColor: "#1e6b34",
  fillOpacity: 0.3,
};

// createMap(element, { label, onWardClick(ward, latlng), onMapClick(latlng) }) -> a handle.
export async function createMap(element, { label, onWardClick, onMapClick } = {}) {
  element.classList.add("map");
  element.setAttribute("role", "region");
  element.setAttribute("aria-label", label || "Map of London's wards");
  const [settings, boroughs, wards] = await Promise.all([
    fetchJson("/app/settings.json"),
    fetchJson("/api/geo/map/boroughs.geojson"),
    fetchJson("/api/geo/map/wards.geojson"),
  ]);
  const map = L.map(element, {
    center: LONDON,
    zoom: 10,
    zoomSnap: 0.25,
    attributionControl: Boolean(settings.map_tile_url),
  });
  if (settings.map_tile_url) {
    L.tileLayer(tileTemplate(settings.map_tile_url), {
      maxZoom: 18,
      attribution: "Map tiles",
    }).addTo(map);
  }
  const styles = new Map(); // ward code -> style override
  const layers = new Map(); // ward code -> Leaflet layer
  const wardNames = new Map();
  const wardLayer = L.geoJSON(wards, {
    style: (feature) => ({ ...WARD_STYLE, className: `ward ward-${feature.properties.code}` }),
    onEachFeature: (feature, layer) => {
      layers.set(feature.properties.code, layer);
      wardNames.set(feature.properties.code, feature.properties.name);
      if (onWardClick) {
        layer.on("click", (event) => {
          L.DomEvent.stopPropagation(event);
          onWardClick(feature.properties, event.latlng);
        });
      }
    },
  }).addTo(map);
  L.geoJSON(boroughs, {
    style: { color: "#1b1b1b", weight: 2, fill: false },
    interactive: false,
  }).addTo(map);
  map.fitBounds(wardLayer.getBounds(), { animate: false });
  if (onMapClick) map.on("click", (event) => onMapClick(event.latlng));
  const shapes = L.layerGroup().addTo(map);

  return {
    map,
    wardName: (code) => wardNames.get(code),
    // Paint wards: { code: "selected" | "watched" }; others go back to plain.
    paintWards(states) {
      for (const code of styles.keys()) {
        if (!(code in states)) layers.get(code)?.setStyle(WARD_STYLE);
      }
      styles.clear();
      for (const [code, state] of Object.entries(states)) {
        const layer = layers.get(code);
        if (!layer) continue;
        styles.set(code, state);
        layer.setStyle(state === "watched" ? WATCHED_STYLE : SELECTED_STYLE);
        layer.bringToFront();
      }
    },
    clearShapes() {
      shapes.clearLayers();
    },
    addCircle(lat, lon, radiusM, kind = "selected") {
      const style = kind === "watched" ? WATCHED_STYLE : SELECTED_STYLE;
      L.circle([lat, lon], { radius: radiusM, ...style, interactive: false }).addTo(shapes);
    },
    addPolygon(rings, kind = "selected") {
      const style = kind === "watched" ? WATCHED_STYLE : SELECTED_STYLE;
      const latlngs = rings.map((ring) => ring.map(([lon, lat]) => [lat, lon]));
      L.polygon(latlngs, { ...style, interactive: false }).addTo(shapes);
    },
    // Zoom to the given wards and shapes, if any.
    focusOn(codes, extra = []) {
      let bounds = null;
      for (const code of codes) {
        const layer = layers.get(code);
        if (layer)
          bounds = bounds
            ? bounds.extend(layer.getBounds())
            : L.latLngBounds(layer.getBounds().getSouthWest(), layer.getBounds().getNorthEast());
      }
      shapes.eachLayer((layer) => {
        bounds = bounds
          ? bounds.extend(layer.getBounds())
          : L.latLngBounds(layer.getBounds().getSouthWest(), layer.getBounds().getNorthEast());
      });
      for (const point of extra)
        bounds = bounds ? bounds.extend(point) : L.latLngBounds(point, point);
      if (bounds) map.fitBounds(bounds, { maxZoom: 14, padding: [20, 20], animate: false });
    },
    // Boroughs as GeoJSON features (for code -> name).
    boroughs: boroughs.features.map((f) => f.properties),
  };
}
