import assert from "node:assert/strict";
import { lineChart, niceTicks } from "../../train/plot.ts";

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
