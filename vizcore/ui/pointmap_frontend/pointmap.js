// vizcore's point map: every point of a 2-D map, from binary buffers that Streamlit passes as `bytes` component
// arguments (no JSON of the points), drawn on the CPU (raster.js) and picked through a grid index (geometry.js).
// Speaks the Streamlit component v1 protocol directly (the messages of streamlit-component-lib, without React).
//
// Drag selects (a box by default, a lasso or panning from the toolbar); the wheel zooms about the pointer; a click
// picks one point; a double-click clears. Hover shows the point's text and, when the data set has images, its
// thumbnail: cut from a sheet of 256 that the server writes to disk (ui/thumbsheets.py) and this frame fetches the
// first time one of its points is hovered (the last SHEETS_KEPT sheets are kept). `window.pointmap` exposes what was drawn (frames, view, colours) for tests and benchmarks.
import {gridIndex, nearest, niceTicks, pointsInPolygon} from './geometry.js';
import {discOffsets, drawPoints, ringOffsets, toPixel} from './raster.js';

const MARGIN = {left: 64, bottom: 44, top: 8, right: 8};
const PICK_RADIUS = 5;  // pixels around the pointer in which hover and a click find a point
const SELECTED_FADE = 0.2;  // alpha of the points outside a selection, relative to their own
const SHEETS_KEPT = 64;  // thumbnail sheets kept in memory (a 512-px sheet is 1 MB as a bitmap)
const SHEET_RETRY_MS = 3000;  // a sheet not written yet is asked for again after this long
const state = {
  args: null, dataId: null, n: 0, xy: null, rgba: null, shown: null, codes: null, hidden: new Set(), grid: null,
  selected: null, mode: 'box', view: null, bounds: null, hoverText: null, seq: 0, matchRows: null,
};
const stats = {frames: 0, lastFrame: 0, drawMs: 0, n: 0, dataId: null, selected: 0, hovered: -1, thumb: -1,
  sheetsFetched: 0, state};
window.pointmap = stats;

// ---- Streamlit component protocol (v1) -----------------------------------------------------------------------------
const send = (type, data) => window.parent.postMessage({isStreamlitMessage: true, type, ...data}, '*');
const setValue = (value) => send('streamlit:setComponentValue', {value, dataType: 'json'});
window.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'streamlit:render') render(event.data.args);
});

// ---- DOM -----------------------------------------------------------------------------------------------------------
const root = document.getElementById('root');
const $ = (s) => root.querySelector(s);
const plot = $('.plot'), canvas = $('.points'), overlay = $('.overlay'), tooltip = $('.tooltip'), legend = $('.legend');

for (const b of root.querySelectorAll('.toolbar button[data-mode]')) b.addEventListener('click', () => setMode(b.dataset.mode));
$('.toolbar [data-action=reset]').addEventListener('click', () => { fit(); redraw(); });

function setMode(mode) {
  state.mode = mode;
  for (const b of root.querySelectorAll('.toolbar button[data-mode]')) {
    b.setAttribute('aria-pressed', String(b.dataset.mode === mode));
  }
  plot.style.cursor = mode === 'pan' ? 'grab' : 'crosshair';
}
setMode('box');

// ---- data ----------------------------------------------------------------------------------------------------------
function typed(bytes, Type) {  // an aligned copy: Streamlit's bytes are a view at any offset of its message buffer
  if (!bytes) return null;
  const copy = bytes.slice();
  return new Type(copy.buffer, copy.byteOffset, copy.byteLength / Type.BYTES_PER_ELEMENT);
}

function render(args) {
  state.args = args;
  root.classList.toggle('showonly', !args.selectable);
  $('.hint').textContent = args.selectable ? 'drag: select · scroll: zoom · click: one point' : 'drag: move · scroll: zoom';
  if (!args.selectable && state.mode !== 'pan') setMode('pan');
  $('.title').textContent = args.title;
  $('.subtitle').textContent = args.subtitle || '';
  root.style.height = `${args.height}px`;
  if (args.data_id !== state.dataId) load(args);
  drawLegend();
  resize();
  send('streamlit:setFrameHeight', {height: args.height});
}

function load(args) {
  const t0 = performance.now();
  stats.receivedAt = Date.now();  // wall clock: comparable with the page's navigation start
  state.dataId = args.data_id;
  state.n = args.n;
  state.xy = typed(args.xy, Float32Array);
  state.rgba = typed(args.rgba, Uint8Array);
  state.codes = typed(args.codes, Uint16Array);
  const matches = typed(args.matches, Uint32Array);
  state.matchRows = matches && matches.length ? matches : null;
  state.hoverText = args.hover ? new TextDecoder().decode(args.hover).split('\n') : null;
  // Legend entries hidden by the user stay hidden while the map and its legend are the same (a search, contours)
  const legendKey = args.legend.kind === 'categories'
    ? [args.map_id, args.legend.title, ...args.legend.names].join('\n') : null;
  if (legendKey === null || legendKey !== state.legendKey) state.hidden = new Set();
  state.legendKey = legendKey;
  // The selection the server holds (the last value sent) belongs to a map_id: shown again when that map comes back
  // (new colours or a search keep the map_id; another data set, source or method does not).
  const kept = state.sent && state.sent.map_id === args.map_id ? state.sent.rows.filter((i) => i < args.n) : [];
  state.selected = kept.length ? kept : null;
  stats.selected = kept.length;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < state.n; i++) {
    const x = state.xy[2 * i], y = state.xy[2 * i + 1];
    if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
  if (!(y1 > y0)) { y0 -= 1; y1 += 1; }
  state.bounds = [x0, y0, x1, y1];
  const t1 = performance.now();
  state.grid = gridIndex(state.xy, state.n, state.bounds);
  stats.loadMs = {buffers: t1 - t0, grid: performance.now() - t1};
  stats.n = state.n;
  stats.dataId = state.dataId;
  state.view = null;
  recolour();
}

// The colours drawn: the server's, with hidden categories transparent and, while a selection exists, the rest faded.
function recolour() {
  const {rgba, codes, hidden, selected, n} = state;
  const shown = new Uint8Array(rgba);
  if (codes && hidden.size) {
    for (let i = 0; i < n; i++) if (hidden.has(codes[i])) shown[4 * i + 3] = 0;
  }
  if (selected) {
    const keep = new Uint8Array(n);
    for (const i of selected) keep[i] = 1;
    for (let i = 0; i < n; i++) if (!keep[i]) shown[4 * i + 3] = Math.round(shown[4 * i + 3] * SELECTED_FADE);
  }
  state.shown = shown;
  stats.shown = shown;
}

// ---- view and drawing ----------------------------------------------------------------------------------------------
const dpr = () => Math.min(2, window.devicePixelRatio || 1);

function area() {  // the plotting area in CSS pixels
  const r = plot.getBoundingClientRect();
  return [Math.max(10, r.width - MARGIN.left - MARGIN.right), Math.max(10, r.height - MARGIN.top - MARGIN.bottom)];
}

function fittedScale() {  // pixels per map unit of the whole map, x and y
  const [x0, y0, x1, y1] = state.bounds;
  const [w, h] = area();
  return {sx: w / ((x1 - x0) * 1.06), sy: h / ((y1 - y0) * 1.06)};
}

function fit() {  // the whole map with 3% to spare on each side; x and y scaled separately to fill the area
  const [x0, y0, x1, y1] = state.bounds;
  const [, h] = area();
  const {sx, sy} = fittedScale();
  state.view = {x0: x0 - (x1 - x0) * 0.03, y0: y0 - (y1 - y0) * 0.03, sx, sy, height: h, width: area()[0],
                fitted: true};
}

function resize() {  // the whole map while the user has not zoomed or panned; else the same centre and scale
  const [w, h] = area();
  if (!state.view || state.view.fitted) fit();
  else if (h !== state.view.height || w !== state.view.width) {
    const v = state.view, dx = (w - (v.width || w)) / 2 / v.sx, dy = (h - v.height) / 2 / v.sy;
    state.view = {...v, x0: v.x0 - dx, y0: v.y0 - dy, height: h, width: w};
  }
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  canvas.width = Math.round(w * dpr());
  canvas.height = Math.round(h * dpr());
  redraw();
}
new ResizeObserver(() => { if (state.args) resize(); }).observe(plot);

let pending = false;
function redraw() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; draw(); });
}

function draw() {
  if (!state.args || !state.view) return;
  const t0 = performance.now();
  const k = dpr(), W = canvas.width, H = canvas.height;
  const v = state.view, view = {x0: v.x0, y0: v.y0, sx: v.sx * k, sy: v.sy * k, height: H};
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(W, H);
  const px = new Uint32Array(image.data.buffer);
  px.fill(0xffffffff);
  const r = state.args.radius * k;
  drawPoints(px, W, H, state.xy, state.shown, state.n, view, discOffsets(r));
  if (state.matchRows) {
    drawPoints(px, W, H, state.xy, null, state.n, view, ringOffsets(r + 3 * k, 2 * k), state.matchRows,
      [17, 17, 17, 255]);
  }
  ctx.putImageData(image, 0, 0);
  if (state.args.contours && state.args.contours.length) {
    ctx.strokeStyle = 'rgba(90, 90, 90, 0.65)';
    ctx.lineWidth = k;
    ctx.beginPath();
    for (const line of state.args.contours) {
      line.forEach(([x, y], j) => {
        const [cx, cy] = toPixel(view, x, y);
        if (j === 0) ctx.moveTo(cx, cy); else ctx.lineTo(cx, cy);
      });
    }
    ctx.stroke();
  }
  drawAxes();
  stats.drawMs = performance.now() - t0;
  stats.frames += 1;
  stats.lastFrame = performance.now();
  stats.view = {...state.view};
  $('.count').textContent = state.selected ? `${state.selected.length.toLocaleString('en')} selected · `
    + 'double-click to clear' : '';
}

// Map coordinates of the CSS pixel (px, py) of the plot element (its margins included).
function toMap(px, py) {
  const v = state.view;
  return [v.x0 + (px - MARGIN.left) / v.sx, v.y0 + (v.height - 1 - (py - MARGIN.top)) / v.sy];
}

plot.addEventListener('wheel', (e) => {
  e.preventDefault();
  if (!state.view) return;
  const r = plot.getBoundingClientRect();
  const [mx, my] = toMap(e.clientX - r.left, e.clientY - r.top);
  const v = state.view, fitted = fittedScale();
  // 120 (one notch) zooms by 1.27x; between 1/100 and 100,000 times the whole map's scale
  let f = Math.exp(-Math.max(-600, Math.min(600, e.deltaY)) * 0.002);
  f = Math.min(Math.max(f, fitted.sx / 100 / v.sx), fitted.sx * 1e5 / v.sx);
  state.view = {...v, sx: v.sx * f, sy: v.sy * f, x0: mx - (mx - v.x0) / f, y0: my - (my - v.y0) / f, fitted: false};
  tooltip.hidden = true;
  redraw();
}, {passive: false});

// ---- pointer: hover, click, drag (select or pan) -------------------------------------------------------------------
const isHidden = (i) => Boolean(state.codes && state.hidden.has(state.codes[i]));

function pick(px, py) {  // the row under plot pixel (px, py), or -1
  if (!state.view) return -1;
  const [x, y] = toMap(px, py);
  return nearest(state.grid, state.xy, x, y, PICK_RADIUS / state.view.sx, PICK_RADIUS / state.view.sy, isHidden);
}

let drag = null, hoverAt = null;
const local = (e) => { const r = plot.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };

plot.addEventListener('pointerdown', (e) => {
  if (e.button !== 0 || !state.view) return;
  tooltip.hidden = true;
  drag = {points: [local(e)], moved: false, view: {...state.view}};
});
window.addEventListener('pointermove', (e) => {
  if (!drag) {
    if (e.target !== plot && !plot.contains(e.target)) return;
    const first = hoverAt === null;
    hoverAt = local(e);
    if (first) requestAnimationFrame(() => { const at = hoverAt; hoverAt = null; if (!drag && at) hover(at); });
    return;
  }
  const p = local(e), [q] = drag.points;
  if (Math.hypot(p[0] - q[0], p[1] - q[1]) > 4) drag.moved = true;
  if (state.mode === 'pan') {
    const v = drag.view;
    state.view = {...v, x0: v.x0 - (p[0] - q[0]) / v.sx, y0: v.y0 + (p[1] - q[1]) / v.sy, fitted: false};
    redraw();
    return;
  }
  if (state.mode === 'box') drag.points = [q, p]; else drag.points.push(p);
  drawShape();
});
window.addEventListener('pointerup', () => {
  if (!drag) return;
  const {points, moved} = drag;
  drag = null;
  drawShape();
  if (state.mode === 'pan' && (moved || !state.args.selectable)) return;
  if (!moved) {  // a click: the point under the pointer, if any
    const i = pick(points[0][0], points[0][1]);
    if (i >= 0) select([i], i);
    return;
  }
  const screen = state.mode === 'box' ? boxCorners(points[0], points[1]) : points;
  const polygon = screen.map(([x, y]) => toMap(x, y));
  select(pointsInPolygon(state.xy, state.n, polygon).filter((i) => !isHidden(i)));
});
plot.addEventListener('pointerleave', () => { tooltip.hidden = true; stats.hovered = -1; });
plot.addEventListener('dblclick', () => { if (state.selected && state.args.selectable) select([]); });

const boxCorners = ([x0, y0], [x1, y1]) => [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];

function select(rows, clicked = null) {
  state.selected = rows.length ? rows : null;
  state.seq += 1;
  stats.selected = rows.length;
  recolour();
  redraw();
  state.sent = {map_id: state.args.map_id, rows, clicked, seq: state.seq};
  setValue(state.sent);
}

function hover([px, py]) {
  const i = pick(px, py);
  stats.hovered = i;
  if (i < 0) {
    tooltip.hidden = true;
    return;
  }
  const spec = state.args.legend;
  $('.tiptext').textContent = state.hoverText ? state.hoverText[i]
    : `row ${i}` + (state.codes && spec.names ? ` · ${spec.title} ${spec.names[state.codes[i]]}` : '');
  showThumb(i);
  tooltip.hidden = false;
  placeTooltip(px, py);
}

function placeTooltip(px, py) {
  tooltip.dataset.px = px;
  tooltip.dataset.py = py;
  const right = px + 14 + tooltip.offsetWidth > plot.clientWidth;
  tooltip.style.left = `${right ? px - 14 - tooltip.offsetWidth : px + 14}px`;
  tooltip.style.top = `${Math.max(0, Math.min(py + 10, plot.clientHeight - tooltip.offsetHeight - 4))}px`;
}

// ---- hover thumbnails: sheets of cells x cells images, fetched on first need ----------------------------------------
const sheets = {url: null, cache: new Map()};  // sheet number -> ImageBitmap, 'loading', or the time it failed

function showThumb(i) {
  const t = state.args.thumbs, thumb = $('.thumb');
  thumb.hidden = true;
  stats.thumb = -1;
  if (!t || i >= t.count) return;
  if (sheets.url !== t.url) { sheets.url = t.url; sheets.cache.clear(); }
  const per = t.cells * t.cells, s = Math.floor(i / per), sheet = sheets.cache.get(s);
  if (sheet instanceof ImageBitmap) {
    sheets.cache.delete(s);  // most recently used last
    sheets.cache.set(s, sheet);
    const k = Math.max(1, Math.floor(72 / t.side)), cell = i % per;
    thumb.width = thumb.height = k * t.side;
    const ctx = thumb.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(sheet, (cell % t.cells) * t.side, Math.floor(cell / t.cells) * t.side, t.side, t.side,
                  0, 0, k * t.side, k * t.side);
    thumb.hidden = false;
    stats.thumb = i;
  } else if (sheet !== 'loading' && !(typeof sheet === 'number' && performance.now() - sheet < SHEET_RETRY_MS)) {
    fetchSheet(t.url, s, t.ext).then(() => {  // the point hovered now (this one, or another on the same sheet)
      const now = stats.hovered;
      if (now >= 0 && !tooltip.hidden && Math.floor(now / per) === s) {
        showThumb(now);
        placeTooltip(+tooltip.dataset.px, +tooltip.dataset.py);
      }
    });
  }
}

async function fetchSheet(url, s, ext) {
  sheets.cache.set(s, 'loading');
  const t0 = performance.now();
  try {
    const response = await fetch(new URL(`${url}${s}.${ext}`, document.baseURI));
    if (!response.ok) throw new Error(`${response.status}`);  // not written yet
    const bitmap = await createImageBitmap(await response.blob());
    if (sheets.url !== url) return;
    sheets.cache.delete(s);  // re-inserted: the newest entry
    sheets.cache.set(s, bitmap);
    stats.sheetsFetched++;
    stats.sheetMs = performance.now() - t0;  // fetch and decode of the last sheet
    const bitmaps = [...sheets.cache].filter(([, value]) => value instanceof ImageBitmap);
    for (const [old, value] of bitmaps.slice(0, Math.max(0, bitmaps.length - SHEETS_KEPT))) {  // the oldest go
      value.close();
      sheets.cache.delete(old);
    }
  } catch (error) {
    if (sheets.url === url) sheets.cache.set(s, performance.now());
  }
}

function drawShape() {
  overlay.querySelector('.shape')?.remove();
  if (!drag || !drag.moved || state.mode === 'pan') return;
  const pts = state.mode === 'box' ? boxCorners(drag.points[0], drag.points[1]) : drag.points;
  const shape = document.createElementNS('http://www.w3.org/2000/svg', 'polygon');
  shape.setAttribute('class', 'shape');
  shape.setAttribute('points', pts.map((p) => p.join(',')).join(' '));
  overlay.appendChild(shape);
}

// ---- axes and legend -----------------------------------------------------------------------------------------------
const escape = (s) => String(s).replace(/[&<>"]/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]));

function drawAxes() {
  const [w, h] = area();
  const v = state.view, [ox, oy] = state.args.offset || [0, 0];  // the axes show the map's own coordinates
  const [x0, y0] = [v.x0 + ox, v.y0 + oy], [x1, y1] = [x0 + w / v.sx, y0 + h / v.sy];
  const toX = (x) => MARGIN.left + (x - x0) * v.sx, toY = (y) => MARGIN.top + h - 1 - (y - y0) * v.sy;
  const parts = [`<rect class="frame" x="${MARGIN.left}" y="${MARGIN.top}" width="${w}" height="${h}"/>`];
  for (const t of niceTicks(x0, x1, Math.max(2, Math.floor(w / 90)))) {
    const x = toX(t.value);
    parts.push(`<line class="tick" x1="${x}" x2="${x}" y1="${MARGIN.top + h}" y2="${MARGIN.top + h + 5}"/>`,
      `<text class="ticklabel" x="${x}" y="${MARGIN.top + h + 17}" text-anchor="middle">${t.label}</text>`);
  }
  for (const t of niceTicks(y0, y1, Math.max(2, Math.floor(h / 70)))) {
    const y = toY(t.value);
    parts.push(`<line class="tick" x1="${MARGIN.left - 5}" x2="${MARGIN.left}" y1="${y}" y2="${y}"/>`,
      `<text class="ticklabel" x="${MARGIN.left - 8}" y="${y + 4}" text-anchor="end">${t.label}</text>`);
  }
  const [ax, ay] = state.args.axis_titles.map(escape);
  parts.push(`<text class="axistitle" x="${MARGIN.left + w / 2}" y="${MARGIN.top + h + 36}" text-anchor="middle">`
    + `${ax}</text>`, `<text class="axistitle" transform="translate(16 ${MARGIN.top + h / 2}) rotate(-90)" `
    + `text-anchor="middle">${ay}</text>`);
  const shape = overlay.querySelector('.shape');
  overlay.innerHTML = parts.join('');
  if (shape) overlay.appendChild(shape);
}

function drawLegend() {
  const spec = state.args.legend;
  legend.innerHTML = `<div class="legendtitle">${escape(spec.title)}</div>`;
  if (spec.kind === 'scale') {
    const stops = spec.stops.map(([t, c]) => `${c} ${(100 * t).toFixed(1)}%`).join(', ');
    legend.insertAdjacentHTML('beforeend', '<div class="scale"><div class="bar" style="background: '
      + `linear-gradient(to top, ${stops})"></div><div class="scalelabels"><span>${escape(spec.max_label)}</span>`
      + `<span>${escape(spec.min_label)}</span></div></div>`);
    if (spec.note) legend.insertAdjacentHTML('beforeend', `<div class="legendnote">${escape(spec.note)}</div>`);
    return;
  }
  for (const item of spec.items) {
    const el = document.createElement('button');
    el.className = 'item';
    el.title = 'Click to hide or show these points';
    el.setAttribute('aria-pressed', String(!state.hidden.has(item.code)));
    el.innerHTML = `<span class="swatch" style="background:${item.color}"></span><span class="name">`
      + `${escape(item.name)}</span><span class="n">${item.count.toLocaleString('en')}</span>`;
    el.addEventListener('click', () => {
      if (state.hidden.has(item.code)) state.hidden.delete(item.code); else state.hidden.add(item.code);
      recolour();
      drawLegend();
      redraw();
    });
    legend.appendChild(el);
  }
  if (spec.note) legend.insertAdjacentHTML('beforeend', `<div class="legendnote">${escape(spec.note)}</div>`);
}

send('streamlit:componentReady', {apiVersion: 1});
