// Small geometry of the point map: axis ticks at round numbers, and which points lie inside a drawn shape.

// About `count` ticks between a and b at steps of 1, 2 or 5 times a power of ten, with labels of just enough digits.
export function niceTicks(a, b, count) {
  const lo = Math.min(a, b), hi = Math.max(a, b);
  const span = hi - lo;
  if (!(span > 0) || !Number.isFinite(span)) return [];
  const raw = span / count, power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || 10 * power;
  const scale = Math.max(Math.abs(lo), Math.abs(hi));
  if (!(step > scale * 1e-12)) return [];  // steps below float64's resolution at these values: no honest labels
  const digits = Math.min(20, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  const out = [], first = Math.ceil(lo / step);
  for (let k = 0; k <= 2 * count + 2; k++) {  // bounded: at most about 2 * count ticks fit
    const v = (first + k) * step;
    if (v > hi + step * 1e-9) break;
    const value = Math.abs(v) < step * 1e-9 ? 0 : v;
    out.push({value, label: value.toFixed(digits)});
  }
  return out;
}

// Rows of the points (xy: Float32Array of n x, y pairs) inside `polygon` ([[x, y], ...] in the same units), by the
// even-odd rule; a box is the polygon of its four corners. Points outside the polygon's bounding box are skipped.
export function pointsInPolygon(xy, n, polygon) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y] of polygon) {
    if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  const m = polygon.length, px = polygon.map((p) => p[0]), py = polygon.map((p) => p[1]);
  const box = m === 4 && px[0] === px[3] && px[1] === px[2] && py[0] === py[1] && py[2] === py[3];
  const rows = [];
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i], y = xy[2 * i + 1];
    if (x < x0 || x > x1 || y < y0 || y > y1) continue;
    if (box) { rows.push(i); continue; }
    let inside = false;
    for (let j = 0, k = m - 1; j < m; k = j++) {
      if ((py[j] > y) !== (py[k] > y) && x < ((px[k] - px[j]) * (y - py[j])) / (py[k] - py[j]) + px[j]) {
        inside = !inside;
      }
    }
    if (inside) rows.push(i);
  }
  return rows;
}

// A uniform grid over the points' bounding box (about 4 points a cell), for picking on the CPU: software WebGL
// (no GPU) took 2-5 s for each of deck.gl's GPU picking passes at 100k points (benchmarks/RESULTS.md).
// `order` lists the rows cell by cell; the rows of cell c are order[start[c]] .. order[start[c + 1] - 1].
export function gridIndex(xy, n, [x0, y0, x1, y1]) {
  const side = Math.max(1, Math.min(2048, Math.round(Math.sqrt(n / 4))));
  const w = (x1 - x0) / side || 1, h = (y1 - y0) / side || 1;
  const cell = new Uint32Array(n), start = new Uint32Array(side * side + 1);
  for (let i = 0; i < n; i++) {
    const cx = Math.min(side - 1, Math.max(0, Math.floor((xy[2 * i] - x0) / w)));
    const cy = Math.min(side - 1, Math.max(0, Math.floor((xy[2 * i + 1] - y0) / h)));
    cell[i] = cy * side + cx;
    start[cell[i] + 1] += 1;
  }
  for (let c = 0; c < side * side; c++) start[c + 1] += start[c];
  const fill = start.slice(0, side * side), order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[fill[cell[i]]++] = i;
  return {side, x0, y0, w, h, start, order};
}

// The row of the point nearest to (x, y) within an ellipse of radii (rx, ry) (a radius in screen pixels, in map
// units per axis), skipping rows where skip(row) is true; -1 if none. Ties go to the later row (drawn on top).
export function nearest(grid, xy, x, y, rx, ry, skip = null) {
  const {side, x0, y0, w, h, start, order} = grid;
  const cx0 = Math.max(0, Math.floor((x - rx - x0) / w)), cx1 = Math.min(side - 1, Math.floor((x + rx - x0) / w));
  const cy0 = Math.max(0, Math.floor((y - ry - y0) / h)), cy1 = Math.min(side - 1, Math.floor((y + ry - y0) / h));
  let best = -1, bestD = 1;
  for (let cy = cy0; cy <= cy1; cy++) {
    for (let cx = cx0; cx <= cx1; cx++) {
      const c = cy * side + cx;
      for (let k = start[c]; k < start[c + 1]; k++) {
        const i = order[k];
        const dx = (xy[2 * i] - x) / rx, dy = (xy[2 * i + 1] - y) / ry, d = dx * dx + dy * dy;
        if ((d < bestD || (d === bestD && i > best)) && !(skip && skip(i))) { best = i; bestD = d; }
      }
    }
  }
  return best;
}
