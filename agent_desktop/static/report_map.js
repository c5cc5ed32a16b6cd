// The map of reports: the filters ask /reports/map/api/points, the answer becomes clustered
// points, a heat layer and the table of districts (the map's text alternative).
import { districtMap, loadDistricts } from "/static/geo/ckm-map.js";

const L = window.L;
const $ = (id) => document.getElementById(id);
const form = $("map-filters");
const text = JSON.parse($("map-text").textContent);
const summary = $("map-summary");

function clusterIcon(cluster) {
  const n = cluster.getChildCount();
  const size = n < 10 ? "small" : n < 100 ? "medium" : "large";
  const inner = document.createElement("div");
  const count = document.createElement("span");
  count.textContent = String(n);
  inner.append(count);
  return L.divIcon({ html: inner, className: `marker-cluster marker-cluster-${size}`, iconSize: L.point(40, 40) });
}

function popup(p) {
  const [, , , number, status, category, district] = p;
  const box = document.createElement("div");
  const title = document.createElement("strong");
  title.textContent = number;
  box.append(title, document.createElement("br"),
    `${text.statuses[status] || status} · ${category} · ${district || text.none}`);
  return box;
}

function fillTable(districts, total) {
  const body = $("district-table").tBodies[0];
  for (const row of [...body.rows]) {
    if (row.dataset.district === "" && !districts[""]) row.remove();
  }
  if (districts[""] && !body.querySelector("tr[data-district='']")) {
    const row = body.insertRow();
    row.dataset.district = "";
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = text.none;
    row.append(th);
    row.insertCell().className = "n";
    row.insertCell().className = "n";
  }
  for (const row of body.rows) {
    const n = districts[row.dataset.district] || 0;
    row.cells[1].textContent = String(n);
    row.cells[2].textContent = `${total ? (100 * n / total).toFixed(1) : "0.0"}%`;
  }
  $("district-total").textContent = String(total);
}

async function main() {
  const geo = await loadDistricts();
  const { map } = districtMap($("report-map"), geo);
  const clusters = L.markerClusterGroup({
    iconCreateFunction: clusterIcon, showCoverageOnHover: false, chunkedLoading: true, maxClusterRadius: 60,
  });
  // maxZoom near the city-wide zoom keeps a lone report visible (leaflet.heat halves a point's
  // weight per zoom level below maxZoom); `max` grows with the points so that a month of a
  // city (~30k) shows where reports are dense instead of one red blot.
  const heatOptions = { radius: 16, blur: 18, maxZoom: 12, minOpacity: 0.2 };
  const shown = { clusters, heat: L.heatLayer([], heatOptions) };
  for (const name of ["clusters", "heat"]) {
    const box = $(`layer-${name}`);
    if (box.checked) shown[name].addTo(map);
    box.addEventListener("change", () => (box.checked ? shown[name].addTo(map) : shown[name].remove()));
  }

  let asked = 0;
  async function refresh() {
    const query = new URLSearchParams(new FormData(form));
    const mine = ++asked;
    $("map-errors").textContent = "";
    const response = await fetch(`/reports/map/api/points?${query}`, { headers: { Accept: "application/json" } });
    const data = await response.json();
    if (mine !== asked) return; // a newer filter was asked meanwhile
    if (!data.ok) {
      $("map-errors").textContent = Object.entries(data.errors).map(([k, v]) => `${k}: ${v}`).join("; ");
      return;
    }
    history.replaceState(null, "", `/reports/map?${query}`);
    clusters.clearLayers();
    clusters.addLayers(data.points.map((p) => L.marker([p[0], p[1]], {
      icon: L.divIcon({ className: "case-point", iconSize: [12, 12], iconAnchor: [6, 6] }),
      title: p[3], alt: p[3],
    }).bindPopup(() => popup(p))));
    // A new heat layer each time: leaflet.heat cannot take new points while off the map
    // (an answer may arrive after the layer was switched off).
    const heat = L.heatLayer(data.points.map((p) => [p[0], p[1], 1]),
      { ...heatOptions, max: Math.max(1, data.points.length / 800) });
    if (map.hasLayer(shown.heat)) {
      shown.heat.remove();
      heat.addTo(map);
    }
    shown.heat = heat;
    fillTable(data.districts, data.total);
    summary.textContent = summary.dataset.template
      .replace("{total}", data.total).replace("{points}", data.points.length)
      + (data.truncated ? ` (${summary.dataset.truncated.replace("{points}", data.points.length)})` : "");
    $("report-map").dataset.points = String(data.points.length);
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    refresh();
  });
  for (const id of ["f-category", "f-status", "f-since", "f-until"]) $(id).addEventListener("change", refresh);
  await refresh();
}

main();
