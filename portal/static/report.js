// The report form's map picker: Warsaw's districts drawn by ckm's shared map module (no tile
// server is reachable); a click or the arrow keys set latitude/longitude, and the district the
// point falls in is offered when none is chosen. Without JavaScript the coordinate fields remain.
import { pointPicker } from "./geo/ckm-map.js";

const map = document.getElementById("map");
const lat = document.getElementById("lat");
const lon = document.getElementById("lon");
const district = document.getElementById("district");
// Leaflet missing (npm ci not run) or failing: the fields alone, as without JavaScript.
const picking = map && window.L ? pointPicker(map, { lat, lon, district }).catch(() => null) : Promise.resolve(null);

function set(la, lo) {
  picking.then((picker) => {
    if (picker) {
      picker.set(la, lo);
    } else {
      lat.value = la.toFixed(5);
      lon.value = lo.toFixed(5);
    }
  });
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
