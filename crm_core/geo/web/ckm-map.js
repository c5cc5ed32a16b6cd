// The map of Warsaw shared by the desk's case form, the map of reports and the portal: Leaflet
// (window.L, loaded by the page from node_modules) over ckm's own district polygons, which are
// the whole base map — no tile server is ever asked for anything, so it works offline.
// The district file sits beside this module and is found from the module's own URL, so the
// desk (/static/geo/) and the portal (/portal/static/geo/) serve the same two files.

const L = window.L;
const DISTRICTS_URL = new URL("warsaw_districts.geojson", import.meta.url);
// Pale fills, one per `tint` (neighbours never share one); text stays dark on all of them.
const TINTS = ["#e3ecd9", "#f3e6cf", "#dde6f2", "#efdde6"];
const EDGE = "#51606f";
const STEP = 0.002; // degrees an arrow key moves the picked point (~150–220 m)

let districtsOnce = null;

/** The districts' GeoJSON (fetched once per page). */
export function loadDistricts() {
  districtsOnce ??= fetch(DISTRICTS_URL).then((r) => {
    if (!r.ok) throw new Error(`districts: HTTP ${r.status}`);
    return r.json();
  });
  return districtsOnce;
}

function contains(ring, lat, lon) {
  // Half-open ray casting, as crm_core.geo.districts does: a point on a shared edge has one owner.
  let inside = false;
  for (let i = 0; i + 1 < ring.length; i++) {
    const [x1, y1] = ring[i], [x2, y2] = ring[i + 1];
    if ((y1 > lat) !== (y2 > lat) && lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1)) inside = !inside;
  }
  return inside;
}

/** The district containing the point, or null outside Warsaw. */
export function districtAt(geo, lat, lon) {
  const found = geo.features.find((f) => contains(f.geometry.coordinates[0], lat, lon));
  return found ? found.properties.name : null;
}

function labelPoint(ring) {
  // The polygon's centroid (area-weighted): inside for these compact shapes.
  let a = 0, x = 0, y = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    const [x1, y1] = ring[i], [x2, y2] = ring[i + 1];
    const k = x1 * y2 - x2 * y1;
    a += k; x += (x1 + x2) * k; y += (y1 + y2) * k;
  }
  return [y / (3 * a), x / (3 * a)];
}

function slug(name) {
  return name.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/ł/g, "l").replace(/Ł/g, "L")
    .toLowerCase().replace(/[^a-z]+/g, "-");
}

/**
 * A Leaflet map of the 18 districts in `element`: filled polygons (one SVG path each, class
 * `district`, data-district = name) and, unless `labels` is false, their names.
 * Returns { map, districts, bounds }.
 */
export function districtMap(element, geo, { labels = true, zoomControl = true, interactive = true } = {}) {
  const map = L.map(element, {
    zoomSnap: 0.25, zoomDelta: 0.5, minZoom: 9, maxZoom: 18, attributionControl: false,
    keyboard: false, zoomControl, dragging: interactive, scrollWheelZoom: interactive,
    doubleClickZoom: interactive, boxZoom: interactive, touchZoom: interactive,
  });
  // The districts are the base map: their own pane where tiles would be (below the overlay
  // pane, where leaflet.heat puts its canvas).
  map.createPane("districts").style.zIndex = "250";
  const districts = L.geoJSON(geo, {
    interactive: false, pane: "districts",
    style: (f) => ({
      color: EDGE, weight: 1.2, fillColor: TINTS[f.properties.tint % TINTS.length], fillOpacity: 1,
      className: `district district-${slug(f.properties.name)}`,
    }),
  });
  const bounds = districts.getBounds();
  // A view first: Leaflet draws a layer only once the map has one.
  map.fitBounds(bounds, { padding: [4, 4] });
  map.setMaxBounds(bounds.pad(0.25));
  districts.addTo(map);
  districts.eachLayer((layer) => {
    layer.getElement()?.setAttribute("data-district", layer.feature.properties.name);
  });
  if (labels) {
    for (const f of geo.features) {
      const text = document.createElement("span");
      text.textContent = f.properties.name;
      L.marker(labelPoint(f.geometry.coordinates[0]), {
        icon: L.divIcon({ className: "district-label", html: text, iconSize: null }),
        interactive: false, keyboard: false, pane: "tooltipPane",
      }).addTo(map);
    }
  }
  // Seen whole in a small box the names crowd the centre: smaller letters until zoomed in.
  const crowd = () => element.classList.toggle("ckm-far", map.getZoom() < 10.5);
  map.on("zoomend", crowd);
  crowd();
  new ResizeObserver(() => map.invalidateSize()).observe(element);
  return { map, districts, bounds };
}

function pointIcon(extraClass = "") {
  return L.divIcon({ className: `case-point ${extraClass}`.trim(), iconSize: [14, 14], iconAnchor: [7, 7] });
}

function parse(input) {
  const v = parseFloat(input.value.replace(",", "."));
  return Number.isFinite(v) ? v : null;
}

/**
 * A point picker over the latitude/longitude inputs of a form (which stay the way to type a
 * point, and the whole picker without JavaScript): a click or the arrow keys on the map set
 * them; typing in them moves the marker; an empty district select is filled with the district
 * the point falls in. Fires "input" and "change" on the inputs it sets.
 */
export async function pointPicker(element, { lat, lon, district = null, centre = [52.2297, 21.0122] }) {
  const geo = await loadDistricts();
  element.hidden = false;
  const { map, bounds } = districtMap(element, geo);
  const marker = L.marker(centre, { icon: pointIcon("picked"), interactive: false, keyboard: false });

  function show() {
    const la = parse(lat), lo = parse(lon);
    if (la === null || lo === null) {
      marker.remove();
      return;
    }
    marker.setLatLng([la, lo]).addTo(map);
    if (!map.getBounds().contains([la, lo])) map.panTo([la, lo]);
  }

  function set(la, lo) {
    la = Math.min(bounds.getNorth(), Math.max(bounds.getSouth(), la));
    lo = Math.min(bounds.getEast(), Math.max(bounds.getWest(), lo));
    lat.value = la.toFixed(5);
    lon.value = lo.toFixed(5);
    if (district && !district.value) {
      const name = districtAt(geo, la, lo);
      if (name) {
        district.value = name;
        district.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }
    for (const input of [lat, lon]) {
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
    show();
  }

  map.on("click", (e) => set(e.latlng.lat, e.latlng.lng));
  element.addEventListener("keydown", (e) => {
    const moves = { ArrowUp: [STEP, 0], ArrowDown: [-STEP, 0], ArrowLeft: [0, -STEP], ArrowRight: [0, STEP] };
    const m = moves[e.key];
    if (!m) return;
    e.preventDefault();
    set((parse(lat) ?? centre[0]) + m[0], (parse(lon) ?? centre[1]) + m[1]);
  });
  lat.addEventListener("input", show);
  lon.addEventListener("input", show);
  show();
  return { map, set, geo };
}

/** A still map with one point (a case's place). */
export async function pointMap(element, lat, lon) {
  const geo = await loadDistricts();
  element.hidden = false;
  const { map } = districtMap(element, geo, { zoomControl: false, interactive: false });
  map.setView([lat, lon], 12.5, { animate: false }); // the neighbourhood, with its district's name
  L.marker([lat, lon], { icon: pointIcon("picked"), interactive: false, keyboard: false }).addTo(map);
  return { map, geo };
}
