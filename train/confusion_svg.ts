// A confusion matrix as a standalone SVG: rows are the true classes, columns the predicted
// ones, class names on both axes, the count in each cell, and each cell coloured by its share
// of the true class (the row-normalised value, white 0 to dark blue 1, as sklearn's
// ConfusionMatrixDisplay(normalize="true") shades it).

import { escapeXml } from "./plot.ts";

export interface ConfusionChartOptions {
  /** confusion[true][predicted] counts. */
  confusion: readonly (readonly number[])[];
  classes: readonly string[];
  title: string;
}

/** Geometry of the chart, exported so tests can check where things are. */
export interface ConfusionLayout {
  cell: number;
  /** Top-left corner of the grid. */
  left: number;
  top: number;
  width: number;
  height: number;
  /** Whether counts are written in the cells (they are when a cell is large enough). */
  counts: boolean;
}

const CHAR = 7; // approximate width of a 12 px sans-serif character
const MAX_LABEL = 24; // characters of a class name shown

function shortName(name: string, i: number): string {
  if (name === "") return String(i);
  return name.length > MAX_LABEL ? name.slice(0, MAX_LABEL - 1) + "…" : name;
}

/** Where the grid and the labels go for `classes` (cells shrink for many classes). */
export function confusionLayout(classes: readonly string[]): ConfusionLayout {
  const k = classes.length;
  const longest = Math.max(4, ...classes.map((c, i) => shortName(c, i).length));
  const cell = Math.max(6, Math.min(48, Math.floor(720 / Math.max(1, k))));
  const left = 40 + CHAR * longest; // "true" axis title, then the names
  const top = 64; // title and caption
  // column names are written at -45°: they take about 0.71 × their length below the grid
  const below = Math.ceil(0.71 * CHAR * longest) + 44;
  return {
    cell,
    left,
    top,
    width: Math.max(left + k * cell + 24, 360),
    height: top + k * cell + below,
    counts: cell >= 22,
  };
}

/** Blues: white at 0, #08306b at 1. */
function shade(v: number): string {
  const lo = [247, 251, 255], hi = [8, 48, 107];
  const c = lo.map((l, i) => Math.round(l + (hi[i] - l) * Math.min(1, Math.max(0, v))));
  return `rgb(${c.join(",")})`;
}

/** The SVG document. */
export function confusionMatrixSvg(o: ConfusionChartOptions): string {
  const k = o.classes.length;
  if (o.confusion.length !== k || o.confusion.some((r) => r.length !== k)) {
    throw new RangeError(`confusionMatrixSvg: the matrix must be ${k}x${k} for ${k} classes`);
  }
  const L = confusionLayout(o.classes);
  const names = o.classes.map(shortName);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${L.width}" height="${L.height}" fill="white"/>`,
    `<text x="${L.width / 2}" y="20" text-anchor="middle" font-size="15">${
      escapeXml(o.title)
    }</text>`,
    `<text x="${
      L.width / 2
    }" y="40" text-anchor="middle" fill="#555">counts; colour: share of the true class (row-normalised)</text>`,
  ];
  const size = L.cell * k;
  o.confusion.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((n, p) => {
      const v = total > 0 ? n / total : 0;
      const x = L.left + p * L.cell, y = L.top + t * L.cell;
      out.push(
        `<rect x="${x}" y="${y}" width="${L.cell}" height="${L.cell}" fill="${
          shade(v)
        }" stroke="#ccc" stroke-width="0.5"><title>true ${escapeXml(o.classes[t])}, predicted ${
          escapeXml(o.classes[p])
        }: ${n} (${(100 * v).toFixed(1)}% of the class)</title></rect>`,
      );
      if (L.counts) {
        out.push(
          `<text x="${x + L.cell / 2}" y="${y + L.cell / 2 + 4}" text-anchor="middle" fill="${
            v > 0.5 ? "white" : "black"
          }"${L.cell < 32 ? ' font-size="9"' : ""}>${n}</text>`,
        );
      }
    });
  });
  out.push(
    `<rect x="${L.left}" y="${L.top}" width="${size}" height="${size}" fill="none" stroke="#333"/>`,
  );
  const fontSize = L.cell < 14 ? ` font-size="${Math.max(6, L.cell - 2)}"` : "";
  names.forEach((name, i) => {
    const mid = i * L.cell + L.cell / 2;
    out.push(
      `<text x="${L.left - 6}" y="${L.top + mid + 4}" text-anchor="end"${fontSize}>${
        escapeXml(name)
      }</text>`,
      `<text transform="translate(${L.left + mid + 4} ${
        L.top + size + 8
      }) rotate(-45)" text-anchor="end"${fontSize}>${escapeXml(name)}</text>`,
    );
  });
  out.push(
    `<text x="${L.left + size / 2}" y="${
      L.height - 10
    }" text-anchor="middle">predicted class</text>`,
    `<text transform="translate(16 ${
      L.top + size / 2
    }) rotate(-90)" text-anchor="middle">true class</text>`,
    "</svg>",
  );
  return out.join("\n") + "\n";
}
