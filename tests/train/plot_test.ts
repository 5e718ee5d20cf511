import assert from "node:assert/strict";
import { chartLayout, lineChart, logTicks, niceTicks } from "../../train/plot.ts";
import { parseSvg, rectOf } from "./svg_check.ts";

Deno.test("niceTicks: round steps covering the range", () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.13, 0.87, 4), [0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(niceTicks(1, 10), [2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(-3, 3, 3), [-2, 0, 2]);
  assert.deepEqual(niceTicks(5, 5), [5]);
});

Deno.test("lineChart: one polyline per series, NaN as a gap, escaped text, points inside the plot", () => {
  const svg = lineChart({
    title: "loss <train> & test",
    xLabel: "epoch",
    yLabel: "loss",
    series: [
      { name: "train", points: [[1, 2], [2, 1], [3, NaN], [4, 0.5], [5, 0.25]] },
      { name: "test", points: [[1, 2.5], [2, 1.5]] },
      { name: "single", points: [[3, 1]] },
    ],
  });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.match(svg, /loss &lt;train&gt; &amp; test/);
  assert.equal(svg.match(/<polyline/g)?.length, 3); // train split in two by the NaN, and test
  assert.equal(svg.match(/<circle/g)?.length, 1);
  for (const m of svg.matchAll(/points="([^"]+)"/g)) {
    for (const pair of m[1].split(" ")) {
      const [x, y] = pair.split(",").map(Number);
      assert.ok(x >= 64 && x <= 620 && y >= 36 && y <= 352, pair);
    }
  }
});

Deno.test("lineChart: integer x ticks and a fixed y range", () => {
  const svg = lineChart({
    title: "acc",
    xLabel: "epoch",
    yLabel: "accuracy",
    xInteger: true,
    yRange: [0, 1],
    series: [{ name: "test", points: [[1, 0.5], [2, 0.75]] }],
  });
  const xLabels = [...svg.matchAll(/text-anchor="middle">([^<]+)<\/text>/g)].map((m) => m[1]);
  assert.ok(xLabels.includes("1") && xLabels.includes("2"));
  assert.ok(!xLabels.includes("1.2"));
  assert.match(svg, />0\.8<\/text>/);
});

Deno.test("lineChart: the legend is a box beside the plot area, never over it; markers are dashed and labelled", () => {
  const o = {
    title: "Accuracy per epoch — my-run",
    xLabel: "epoch",
    yLabel: "accuracy",
    yRange: [0, 1] as [number, number],
    xInteger: true,
    // accuracies near 1, where a legend inside the plot's top-right corner used to sit
    series: [
      { name: "train", points: [[1, 0.9], [2, 0.99], [3, 1]] as [number, number][] },
      { name: "a rather long series name", points: [[1, 0.95], [2, 0.98]] as [number, number][] },
    ],
    markers: [{ x: 1, label: "unfreeze" }, { x: 2, label: "lr ×0.1" }],
  };
  const els = parseSvg(lineChart(o));
  const plot = rectOf(els.find((e) => e.attrs.class === "plot-area")!);
  const legend = rectOf(els.find((e) => e.attrs.class === "legend")!);
  const layout = chartLayout(o);
  assert.deepEqual(plot, layout.plot);
  assert.deepEqual(legend, layout.legend);
  assert.ok(legend.x >= plot.x + plot.width, "the legend starts right of the plot area");
  assert.ok(legend.x + legend.width <= 640, "and fits in the picture");
  const texts = els.filter((e) => e.name === "text");
  for (const name of ["train", "a rather long series name"]) {
    const t = texts.find((e) => e.text === name)!;
    assert.ok(Number(t.attrs.x) > legend.x && Number(t.attrs.x) < legend.x + legend.width);
    assert.ok(Number(t.attrs.y) > legend.y && Number(t.attrs.y) < legend.y + legend.height);
  }
  // 7 px a character: the longest name fits in the box
  assert.ok(legend.width >= 34 + 7 * "a rather long series name".length);
  const markers = els.filter((e) => e.attrs.class === "marker");
  assert.equal(markers.length, 2);
  for (const m of markers) {
    assert.equal(m.attrs["stroke-dasharray"], "4 3");
    assert.equal(Number(m.attrs.y1), plot.y);
    assert.equal(Number(m.attrs.y2), plot.y + plot.height);
  }
  for (const label of ["unfreeze", "lr ×0.1"]) {
    const t = texts.find((e) => e.text === label)!;
    assert.ok(Number(t.attrs.y) < plot.y, `${label} is written above the plot area`);
  }
  assert.ok(texts.some((e) => e.text === "Accuracy per epoch — my-run"));
});

Deno.test("lineChart: a log y axis has power-of-ten ticks and leaves out values <= 0", () => {
  const svg = lineChart({
    title: "lr",
    xLabel: "epoch",
    yLabel: "lr",
    yLog: true,
    series: [{ name: "backbone", points: [[1, 1e-2], [2, 1e-3], [3, 0], [4, 1e-4]] }],
  });
  const els = parseSvg(svg);
  const ticks = els.filter((e) => e.name === "text" && e.attrs["text-anchor"] === "end")
    .map((e) => e.text);
  assert.deepEqual(ticks, ["1e-4", "0.001", "0.01"]);
  // the 0 splits the curve: a polyline of two points and a lone circle
  assert.equal(els.filter((e) => e.name === "polyline").length, 1);
  assert.equal(els.filter((e) => e.name === "circle").length, 1);
  // ticks sit by value: 1e-3 halfway between 1e-4 and 1e-2
  const y = (t: string) =>
    Number(
      els.find((e) => e.name === "text" && e.text === t && e.attrs["text-anchor"] === "end")!
        .attrs.y,
    );
  assert.ok(Math.abs(y("0.001") - (y("1e-4") + y("0.01")) / 2) < 0.2);
  assert.deepEqual(logTicks(2e-4, 9e-4), [2e-4, 5e-4]);
  assert.deepEqual(logTicks(2.1e-4, 2.9e-4), [2.1e-4, 2.9e-4], "no round value inside: the ends");
  assert.deepEqual(logTicks(1e-5, 1e-1), [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]);
});
