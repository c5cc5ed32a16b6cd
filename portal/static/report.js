// The report form's map picker: a plan of Warsaw drawn in SVG (no tile server is reachable),
// clicking or arrow keys set latitude/longitude; the nearest district is offered when none is chosen.
const BOX = { north: 52.37, south: 52.09, west: 20.85, east: 21.27 };
const W = 420, H = 280, STEP = 0.002;
const CENTRES = {
  "Bemowo": [52.25, 20.90], "Białołęka": [52.32, 20.99], "Bielany": [52.29, 20.93],
  "Mokotów": [52.19, 21.03], "Ochota": [52.21, 20.97], "Praga-Południe": [52.24, 21.08],
  "Praga-Północ": [52.26, 21.03], "Rembertów": [52.26, 21.16], "Śródmieście": [52.23, 21.01],
  "Targówek": [52.29, 21.05], "Ursus": [52.19, 20.88], "Ursynów": [52.14, 21.04],
  "Wawer": [52.20, 21.17], "Wesoła": [52.23, 21.22], "Wilanów": [52.16, 21.09],
  "Włochy": [52.19, 20.93], "Wola": [52.235, 20.96], "Żoliborz": [52.27, 20.98],
};

const map = document.getElementById("map");
const marker = document.getElementById("map-marker");
const lat = document.getElementById("lat");
const lon = document.getElementById("lon");
const district = document.getElementById("district");

function toXY(la, lo) {
  return [(lo - BOX.west) / (BOX.east - BOX.west) * W, (BOX.north - la) / (BOX.north - BOX.south) * H];
}

function nearestDistrict(la, lo) {
  let best = null, bestD = Infinity;
  for (const [name, [cla, clo]] of Object.entries(CENTRES)) {
    const d = (la - cla) ** 2 + ((lo - clo) * 0.61) ** 2; // cos(52°) evens out degrees
    if (d < bestD) { bestD = d; best = name; }
  }
  return best;
}

function show() {
  const la = parseFloat(lat.value.replace(",", ".")), lo = parseFloat(lon.value.replace(",", "."));
  if (Number.isFinite(la) && Number.isFinite(lo)) {
    const [x, y] = toXY(la, lo);
    marker.setAttribute("cx", x.toFixed(1));
    marker.setAttribute("cy", y.toFixed(1));
  }
}

function set(la, lo) {
  la = Math.min(BOX.north, Math.max(BOX.south, la));
  lo = Math.min(BOX.east, Math.max(BOX.west, lo));
  lat.value = la.toFixed(5);
  lon.value = lo.toFixed(5);
  if (!district.value) district.value = nearestDistrict(la, lo);
  show();
}

if (map) {
  map.addEventListener("click", (e) => {
    const r = map.getBoundingClientRect();
    const x = (e.clientX - r.left) / r.width * W, y = (e.clientY - r.top) / r.height * H;
    set(BOX.north - y / H * (BOX.north - BOX.south), BOX.west + x / W * (BOX.east - BOX.west));
  });
  map.addEventListener("keydown", (e) => {
    const la = parseFloat(lat.value) || 52.2297, lo = parseFloat(lon.value) || 21.0122;
    const moves = { ArrowUp: [STEP, 0], ArrowDown: [-STEP, 0], ArrowLeft: [0, -STEP], ArrowRight: [0, STEP] };
    const m = moves[e.key];
    if (m) { e.preventDefault(); set(la + m[0], lo + m[1]); }
  });
  lat.addEventListener("input", show);
  lon.addEventListener("input", show);
  show();
}

const locate = document.getElementById("locate");
if (locate && "geolocation" in navigator) {
  locate.addEventListener("click", () => navigator.geolocation.getCurrentPosition(
    (p) => set(p.coords.latitude, p.coords.longitude), () => {}, { timeout: 10000 }));
} else if (locate) {
  locate.hidden = true;
}

// Warn before uploading a photo the server will refuse anyway.
const photo = document.getElementById("photo");
if (photo) {
  photo.addEventListener("change", () => {
    const f = photo.files[0];
    // In the page's language, worded as the server words it (i18n.field_message).
    const tooLarge = document.documentElement.lang === "en"
      ? "The photo is too large: at most 5 MB. Choose a smaller one or send without it."
      : "Zdjęcie jest za duże: najwyżej 5 MB. Wybierz mniejsze albo wyślij bez zdjęcia.";
    photo.setCustomValidity(f && f.size > 5 * 1024 * 1024 ? tooLarge : "");
    photo.reportValidity();
  });
}

// Focus the error summary so keyboard and screen-reader users land on it.
const errors = document.getElementById("errors");
if (errors) errors.focus();
