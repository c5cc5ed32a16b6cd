// The case page's small map: the reported point on Warsaw's districts (the coordinates are
// written above it for anyone who does not see the map).
import { pointMap } from "./geo/ckm-map.js";

const box = document.getElementById("case-map");
if (box && window.L) {
  pointMap(box, Number(box.dataset.lat), Number(box.dataset.lon)).catch(() => { box.hidden = true; });
}
