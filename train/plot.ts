// Line charts as standalone SVG text: axes with round-numbered ticks (or powers of ten on a
// log axis), one polyline per series, vertical dashed markers with a label (an unfreeze, an
// lr cut), and a boxed legend to the right of the plot area, so it never covers a curve.

/** One line of a chart. */
export interface Series {
  /** Its legend entry. */
  name: string;
  /** [x, y] points; non-finite y values (and y <= 0 on a log axis) are left out (a gap). */
  points: readonly (readonly [number, number])[];
}

/** A vertical dashed line at `x` with `label` written above the plot area. */
export interface Marker {
  /** Where on the x axis. */
  x: number;
  /** A short text (e.g. "unfreeze", "lr ×0.1"). */
  label: string;
}

/** What lineChart draws. */
export interface ChartOptions {
  /** Written above the chart. */
  title: string;
  xLabel: string;
  yLabel: string;
  /** One line and one legend row each. */
  series: readonly Series[];
  /** In pixels (default 640). */
  width?: number;
  /** In pixels (default 400). */
  height?: number;
  /** Fixed y range, e.g. [0, 1] for accuracy; otherwise fitted to the data. */
  yRange?: [number, number];
  /** A logarithmic y axis (e.g. the lr). */
  yLog?: boolean;
  /** Only whole-number ticks on the x axis (epochs). */
  xInteger?: boolean;
  markers?: readonly Marker[];
}

/** Where lineChart put the plot area and the legend box, for tests and callers. */
export interface ChartLayout {
  /** The plot area (the axes' frame). */
  plot: { x: number; y: number; width: number; height: number };
  /** The legend box, right of the plot area (null without series). */
  legend: { x: number; y: number; width: number; height: number } | null;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
const MARGIN = { left: 64, right: 20, top: 36, bottom: 48 };
const CHAR = 7; // approximate width of a 12 px sans-serif character
const LEGEND_ROW = 16;
const MARKER_ROW = 14;

/** About `count` evenly spaced round values (1, 2 or 5 × 10^k apart) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return out;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace(".0e", "e");
  return String(Number(v.toPrecision(4)));
}

/** Powers of ten in [lo, hi] (lo > 0), with 2 and 5 between them when that gives too few. */
export function logTicks(lo: number, hi: number): number[] {
  const first = Math.floor(Math.log10(lo)), last = Math.ceil(Math.log10(hi));
  for (const mantissas of [[1], [1, 2, 5], [1, 1.5, 2, 3, 5, 7]]) {
    const out: number[] = [];
    for (let e = first; e <= last; e++) {
      for (const m of mantissas) {
        const v = Number((m * 10 ** e).toPrecision(12));
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
      }
    }
    if (out.length >= 2) return out;
  }
  return [lo, hi];
}

/** The legend's size: a row per series, as wide as the longest name. */
function legendSize(series: readonly Series[]) {
  if (series.length === 0) return null;
  const width = 40 + CHAR * Math.max(4, ...series.map((s) => s.name.length));
  return { width, height: 8 + LEGEND_ROW * series.length };
}

/** Marker label rows: a label moves to the next row when it would touch the previous one. */
function markerRows(xs: number[], labels: string[]): number[] {
  const ends: number[] = [];
  return xs.map((x, i) => {
    const w = CHAR * labels[i].length;
    let row = ends.findIndex((end) => x - w / 2 > end + 4);
    if (row < 0) row = ends.length;
    ends[row] = x + w / 2;
    return row;
  });
}

/** Where the plot area and the legend go (see ChartLayout). */
export function chartLayout(o: ChartOptions): ChartLayout {
  const W = o.width ?? 640, H = o.height ?? 400;
  const legend = legendSize(o.series);
  const right = MARGIN.right + (legend ? legend.width + 12 : 0);
  const top = MARGIN.top + (o.markers?.length ? MARKER_ROW * 2 : 0);
  const plot = {
    x: MARGIN.left,
    y: top,
    width: W - MARGIN.left - right,
    height: H - top - MARGIN.bottom,
  };
  return {
    plot,
    legend: legend && { x: plot.x + plot.width + 12, y: plot.y, ...legend },
  };
}

/** A complete SVG document for the chart. */
export function lineChart(o: ChartOptions): string {
  const W = o.width ?? 640, H = o.height ?? 400;
  const { plot, legend } = chartLayout(o);
  const pw = plot.width, ph = plot.height, top = plot.y;
  const log = o.yLog ?? false;
  const shown = (x: number, y: number) =>
    Number.isFinite(x) && Number.isFinite(y) && (!log || y > 0);
  const finite = o.series.flatMap((s) => s.points.filter(([x, y]) => shown(x, y)));
  let [x0, x1] = finite.length
    ? [Math.min(...finite.map((p) => p[0])), Math.max(...finite.map((p) => p[0]))]
    : [0, 1];
  let [y0, y1] = o.yRange ??
    (finite.length
      ? [Math.min(...finite.map((p) => p[1])), Math.max(...finite.map((p) => p[1]))]
      : log
      ? [0.1, 1]
      : [0, 1]);
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  // a log axis works on log10 of the values from here on
  const ty = (y: number) => (log ? Math.log10(y) : y);
  let [t0, t1] = [ty(y0), ty(y1)];
  if (t1 === t0) [t0, t1] = [t0 - 0.5, t1 + 0.5]; // a decade around a constant on a log axis
  if (!o.yRange) {
    const pad = (t1 - t0) * 0.05;
    [t0, t1] = [t0 - pad, t1 + pad];
  }
  [y0, y1] = log ? [10 ** t0, 10 ** t1] : [t0, t1];
  const sx = (x: number) => MARGIN.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => top + (1 - (ty(y) - t0) / (t1 - t0)) * ph;
  const f = (v: number) => v.toFixed(1);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="15">${escapeXml(o.title)}</text>`,
  ];
  for (const t of log ? logTicks(y0, y1) : niceTicks(y0, y1)) {
    out.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + pw}" y1="${f(sy(t))}" y2="${
        f(sy(t))
      }" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end">${formatTick(t)}</text>`,
    );
  }
  const xTicks = niceTicks(x0, x1).filter((t) => !o.xInteger || Number.isInteger(t));
  for (const t of xTicks) {
    out.push(
      `<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${top + ph}" y2="${
        top + ph + 5
      }" stroke="#333"/>`,
      `<text x="${f(sx(t))}" y="${top + ph + 18}" text-anchor="middle">${formatTick(t)}</text>`,
    );
  }
  out.push(
    `<rect class="plot-area" x="${MARGIN.left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + pw / 2}" y="${H - 10}" text-anchor="middle">${
      escapeXml(o.xLabel)
    }</text>`,
    `<text transform="translate(16 ${top + ph / 2}) rotate(-90)" text-anchor="middle">${
      escapeXml(o.yLabel)
    }</text>`,
  );
  const markers = (o.markers ?? []).filter((m) => m.x >= x0 && m.x <= x1)
    .sort((a, b) => a.x - b.x);
  const rows = markerRows(markers.map((m) => sx(m.x)), markers.map((m) => m.label));
  markers.forEach((m, i) => {
    const x = f(sx(m.x));
    out.push(
      `<line class="marker" x1="${x}" x2="${x}" y1="${top}" y2="${
        top + ph
      }" stroke="#777" stroke-dasharray="4 3"/>`,
      `<text x="${x}" y="${
        top - 4 - MARKER_ROW * (rows[i] % 2)
      }" text-anchor="middle" fill="#555">${escapeXml(m.label)}</text>`,
    );
  });
  if (legend) {
    out.push(
      `<rect class="legend" x="${legend.x}" y="${legend.y}" width="${legend.width}" height="${legend.height}" fill="white" stroke="#999"/>`,
    );
  }
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    // Split at values not shown so a NaN shows as a gap.
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1) {
        out.push(
          `<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${run.join(" ")}"/>`,
        );
      }
      if (run.length === 1) {
        const [x, y] = run[0].split(",");
        out.push(`<circle cx="${x}" cy="${y}" r="2.5" fill="${color}"/>`);
      }
      run = [];
    };
    for (const [x, y] of s.points) {
      if (shown(x, y)) run.push(`${f(sx(x))},${f(sy(y))}`);
      else flush();
    }
    flush();
    if (!legend) return;
    const ly = legend.y + 4 + LEGEND_ROW * i + 12;
    out.push(
      `<line x1="${legend.x + 8}" x2="${legend.x + 28}" y1="${ly - 4}" y2="${
        ly - 4
      }" stroke="${color}" stroke-width="2"/>`,
      `<text x="${legend.x + 34}" y="${ly}">${escapeXml(s.name)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
