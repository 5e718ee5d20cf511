import assert from "node:assert/strict";
import { confusionLayout, confusionMatrixSvg } from "../../train/confusion_svg.ts";
import { parseSvg, rectOf } from "./svg_check.ts";

Deno.test("confusionMatrixSvg: well-formed, class names on both axes, counts, row-normalised colour", () => {
  const classes = ["cat", "dog & wolf", "<bird>"];
  const confusion = [[8, 2, 0], [1, 1, 0], [0, 0, 0]];
  const svg = confusionMatrixSvg({ confusion, classes, title: "Confusion matrix — run" });
  const els = parseSvg(svg);
  const texts = els.filter((e) => e.name === "text").map((e) => e.text);
  for (const c of classes) {
    assert.equal(texts.filter((t) => t === c).length, 2, `${c} on both axes`);
  }
  assert.ok(texts.includes("Confusion matrix — run"));
  assert.ok(texts.includes("predicted class") && texts.includes("true class"));
  for (const n of ["8", "2", "1", "0"]) assert.ok(texts.includes(n), `count ${n} written`);
  // cells: 9 rects with a title each; colours by row share (8/10 darker than 1/2 of row 1)
  const cells = els.filter((e) => e.name === "rect" && e.attrs.stroke === "#ccc");
  assert.equal(cells.length, 9);
  const blue = (i: number) => Number(cells[i].attrs.fill.match(/rgb\((\d+)/)![1]);
  assert.ok(blue(0) < blue(3), "0.8 of its row is darker than 0.5 of its row");
  assert.equal(blue(3), blue(4), "1/2 and 1/2 of a row are the same shade");
  assert.equal(cells[8].attrs.fill, "rgb(247,251,255)", "an empty row is white");
  // the grid sits inside the picture, right of the row names
  const L = confusionLayout(classes);
  const first = rectOf(cells[0]);
  assert.equal(first.x, L.left);
  assert.ok(L.left + 3 * L.cell <= L.width && L.top + 3 * L.cell <= L.height);
});

Deno.test("confusionMatrixSvg: many classes shrink the cells and drop the counts; bad shapes are refused", () => {
  const k = 120;
  const classes = Array.from({ length: k }, (_, i) => `class ${i}`);
  const confusion = classes.map((_, t) => classes.map((_, p) => (t === p ? 5 : 0)));
  const L = confusionLayout(classes);
  assert.ok(!L.counts && L.cell >= 6);
  const els = parseSvg(confusionMatrixSvg({ confusion, classes, title: "big" }));
  assert.ok(!els.some((e) => e.name === "text" && e.text === "5"));
  assert.throws(
    () => confusionMatrixSvg({ confusion: [[1]], classes: ["a", "b"], title: "x" }),
    /must be 2x2/,
  );
});
