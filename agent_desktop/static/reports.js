// The reports page's charts (Chart.js, vendored from npm): each is drawn from the table under
// it, so the chart and its accessible table can never disagree. Without JavaScript the tables
// are the page.
/* global Chart */
const COLOURS = { offered: "#1f5fa8", answered: "#197737", abandoned: "#b00020",
  service_level: "#a45400", cases: "#1f5fa8" };

function readTable(id) {
  const table = document.getElementById(id);
  if (!table) return null;
  const keys = table.dataset.keys.split(",");
  const rows = [...table.tBodies[0].rows].map((tr) => [...tr.cells].map((c) => c.textContent));
  return { keys, rows };
}

function number(text) {
  const value = Number.parseFloat(text);
  return Number.isFinite(value) ? value : null;
}

function callsChart(canvas) {
  const data = readTable(canvas.dataset.table);
  if (!data || !data.rows.length) { canvas.closest("figure").hidden = true; return; }
  // The all-queues row closes each interval (queues first, the total last).
  const byBucket = new Map();
  for (const row of data.rows) byBucket.set(row[0], row);
  const col = (key) => data.keys.indexOf(key);
  const rows = [...byBucket.values()];
  const series = (key) => rows.map((r) => number(r[col(key)]));
  new Chart(canvas, {
    data: {
      labels: [...byBucket.keys()],
      datasets: [
        ...["offered", "answered", "abandoned"].map((key) => ({
          type: "bar", label: document.querySelector(`#t-intervals thead th:nth-child(${col(key) + 1})`).textContent,
          data: series(key), backgroundColor: COLOURS[key], yAxisID: "calls" })),
        { type: "line", label: document.querySelector(`#t-intervals thead th:nth-child(${col("service_level") + 1})`).textContent,
          data: series("service_level"), borderColor: COLOURS.service_level,
          backgroundColor: COLOURS.service_level, yAxisID: "level", spanGaps: true },
      ],
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      scales: { calls: { type: "linear", position: "left", beginAtZero: true },
        level: { type: "linear", position: "right", min: 0, max: 100,
          grid: { drawOnChartArea: false } } },
    },
  });
  canvas.dataset.drawn = String(rows.length);
}

function districtsChart(canvas) {
  const data = readTable(canvas.dataset.table);
  if (!data || data.rows.length < 2) { canvas.closest("figure").hidden = true; return; }
  const rows = data.rows.slice(0, -1); // the last row is the total
  const col = data.keys.indexOf("cases");
  new Chart(canvas, {
    type: "bar",
    data: { labels: rows.map((r) => r[0]),
      datasets: [{ label: document.querySelector("#t-cases_district thead th:nth-child(2)").textContent,
        data: rows.map((r) => number(r[col])), backgroundColor: COLOURS.cases }] },
    options: { animation: false, responsive: true, maintainAspectRatio: false, indexAxis: "y" },
  });
  canvas.dataset.drawn = String(rows.length);
}

if (typeof Chart !== "undefined") {
  const calls = document.getElementById("chart-calls");
  if (calls) callsChart(calls);
  const districts = document.getElementById("chart-districts");
  if (districts) districtsChart(districts);
}
