// Line charts as standalone SVG text: axes with round-numbered ticks, one polyline per
// series, a legend. Enough to see a run's loss and accuracy curves in any browser.

export interface Series {
  name: string;
  /** [x, y] points; non-finite y values are left out (a gap, not a zero). */
  points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  width?: number;
  height?: number;
  /** Fixed y range, e.g. [0, 1] for accuracy; otherwise fitted to the data. */
  yRange?: [number, number];
  /** Only whole-number ticks on the x axis (epochs). */
  xInteger?: boolean;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
const MARGIN = { left: 64, right: 20, top: 36, bottom: 48 };

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

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** A complete SVG document for the chart. */
export function lineChart(o: ChartOptions): string {
  const W = o.width ?? 640, H = o.height ?? 400;
  const pw = W - MARGIN.left - MARGIN.right, ph = H - MARGIN.top - MARGIN.bottom;
  const finite = o.series.flatMap((s) =>
    s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  );
  let [x0, x1] = finite.length
    ? [Math.min(...finite.map((p) => p[0])), Math.max(...finite.map((p) => p[0]))]
    : [0, 1];
  let [y0, y1] = o.yRange ??
    (finite.length
      ? [Math.min(...finite.map((p) => p[1])), Math.max(...finite.map((p) => p[1]))]
      : [0, 1]);
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  if (!o.yRange) {
    const pad = (y1 - y0) * 0.05;
    [y0, y1] = [y0 - pad, y1 + pad];
  }
  const sx = (x: number) => MARGIN.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => MARGIN.top + (1 - (y - y0) / (y1 - y0)) * ph;
  const f = (v: number) => v.toFixed(1);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="15">${escapeXml(o.title)}</text>`,
  ];
  for (const t of niceTicks(y0, y1)) {
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
      `<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${MARGIN.top + ph}" y2="${
        MARGIN.top + ph + 5
      }" stroke="#333"/>`,
      `<text x="${f(sx(t))}" y="${MARGIN.top + ph + 18}" text-anchor="middle">${
        formatTick(t)
      }</text>`,
    );
  }
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + pw / 2}" y="${H - 10}" text-anchor="middle">${
      escapeXml(o.xLabel)
    }</text>`,
    `<text transform="translate(16 ${MARGIN.top + ph / 2}) rotate(-90)" text-anchor="middle">${
      escapeXml(o.yLabel)
    }</text>`,
  );
  // the legend sits in the top-right corner, as wide as its longest name (~7 px a character)
  const legendX = MARGIN.left + pw - 30 - 7 * Math.max(12, ...o.series.map((s) => s.name.length));
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    // Split at non-finite values so a NaN shows as a gap.
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
      if (Number.isFinite(x) && Number.isFinite(y)) run.push(`${f(sx(x))},${f(sy(y))}`);
      else flush();
    }
    flush();
    const ly = MARGIN.top + 14 + i * 16;
    out.push(
      `<line x1="${legendX}" x2="${legendX + 20}" y1="${ly - 4}" y2="${
        ly - 4
      }" stroke="${color}" stroke-width="2"/>`,
      `<text x="${legendX + 26}" y="${ly}">${escapeXml(s.name)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
