// Points drawn on the CPU into an RGBA pixel buffer: each point a disc of its colour blended over what is beneath
// ("over", straight alpha, in row order, so later rows lie on top): new = old + round((colour - old) * alpha / 255),
// exact at alpha 255. Measured in headless Chromium with software
// WebGL (benchmarks/RESULTS.md): deck.gl's ScatterplotLayer took 2.5-5 s a frame at 100k points (about 30 µs a
// point in SwiftShader), this loop about 50 ms at 100k and 0.2-0.5 s at 1M, on a GPU or not.

// Pixel offsets of a disc of radius r (pixels): the pixels whose centres lie within r + 0.5 of the centre pixel's.
export function discOffsets(r) {
  const R = Math.ceil(r), dx = [], dy = [];
  for (let y = -R; y <= R; y++) {
    for (let x = -R; x <= R; x++) if (x * x + y * y <= (r + 0.5) ** 2 - 0.25) { dx.push(x); dy.push(y); }
  }
  return {R, dx: Int32Array.from(dx), dy: Int32Array.from(dy)};
}

// A ring (outline) of outer radius r and width w pixels.
export function ringOffsets(r, w) {
  const disc = discOffsets(r), dx = [], dy = [];
  for (let k = 0; k < disc.dx.length; k++) {
    const d2 = disc.dx[k] ** 2 + disc.dy[k] ** 2;
    if (d2 > (r - w + 0.5) ** 2 - 0.25) { dx.push(disc.dx[k]); dy.push(disc.dy[k]); }
  }
  return {R: disc.R, dx: Int32Array.from(dx), dy: Int32Array.from(dy)};
}

// The pixel (column, row) of map point (x, y) under `view` = {x0, y0, sx, sy, height}: x0, y0 the map coordinates
// of the buffer's bottom-left corner, sx, sy pixels per map unit.
export const toPixel = (view, x, y) => [Math.round((x - view.x0) * view.sx), Math.round(view.height - 1 - (y - view.y0) * view.sy)];

// Blend n points into px (Uint32Array over RGBA bytes, little-endian: 0xAABBGGRR), width W, height H.
// xy: Float32Array (x, y) pairs; rgba: Uint8Array, 4 bytes a point (alpha 0 skips the point); rows: optional
// Uint32Array of the rows to draw (else all n). `colour` overrides every point's colour with one RGBA array.
// The inner loop allocates nothing (about 1M points x 13 pixels a frame at the default radius).
export function drawPoints(px, W, H, xy, rgba, n, view, shape, rows = null, colour = null) {
  const {R, dx, dy} = shape, m = dx.length, off = new Int32Array(m);
  for (let k = 0; k < m; k++) off[k] = dy[k] * W + dx[k];
  const {x0, y0, sx, sy} = view, top = view.height - 1;
  const count = rows ? rows.length : n;
  for (let t = 0; t < count; t++) {
    const i = rows ? rows[t] : t;
    const cx = Math.round((xy[2 * i] - x0) * sx), cy = Math.round(top - (xy[2 * i + 1] - y0) * sy);
    if (cx < -R || cy < -R || cx >= W + R || cy >= H + R) continue;
    const c = colour || rgba, base = colour ? 0 : 4 * i;
    const a = c[base + 3];
    if (a === 0) continue;
    const r0 = c[base], g0 = c[base + 1], b0 = c[base + 2], centre = cy * W + cx;
    const inside = cx >= R && cy >= R && cx < W - R && cy < H - R;
    for (let k = 0; k < m; k++) {
      if (!inside) {
        const x = cx + dx[k], y = cy + dy[k];
        if (x < 0 || y < 0 || x >= W || y >= H) continue;
      }
      const j = centre + off[k], d = px[j];
      const dr = d & 255, dg = (d >>> 8) & 255, db = (d >>> 16) & 255;
      px[j] = (0xff000000 | ((db + Math.round((b0 - db) * a / 255)) << 16)
        | ((dg + Math.round((g0 - dg) * a / 255)) << 8) | (dr + Math.round((r0 - dr) * a / 255))) >>> 0;
    }
  }
}
