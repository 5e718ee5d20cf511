import assert from "node:assert/strict";
import { Rng } from "../../base/rng.ts";
import { classificationReport, formatReport } from "../../train/metrics.ts";

/** confusion[true][predicted] of label lists. */
function confusionOf(yTrue: number[], yPred: number[], k: number): number[][] {
  const m = Array.from({ length: k }, () => new Array(k).fill(0));
  yTrue.forEach((t, i) => m[t][yPred[i]]++);
  return m;
}

/**
 * sklearn's definitions written from the label lists, independently of the confusion matrix:
 * precision = tp / (tp + fp), recall = tp / (tp + fn), f1 = 2pr / (p + r), 0 where a
 * denominator is 0 (zero_division=0); macro = mean over classes, weighted = by support.
 */
function reference(yTrue: number[], yPred: number[], k: number) {
  const per = Array.from({ length: k }, (_, c) => {
    let tp = 0, fp = 0, fn = 0;
    for (let i = 0; i < yTrue.length; i++) {
      if (yPred[i] === c && yTrue[i] === c) tp++;
      else if (yPred[i] === c) fp++;
      else if (yTrue[i] === c) fn++;
    }
    const p = tp + fp ? tp / (tp + fp) : 0, r = tp + fn ? tp / (tp + fn) : 0;
    return { precision: p, recall: r, f1: p + r ? (2 * p * r) / (p + r) : 0, support: tp + fn };
  });
  const n = yTrue.length;
  const avg = (key: "precision" | "recall" | "f1", w: (s: typeof per[0]) => number, d: number) =>
    d ? per.reduce((a, s) => a + w(s) * s[key], 0) / d : 0;
  const both = (w: (s: typeof per[0]) => number, d: number) => ({
    precision: avg("precision", w, d),
    recall: avg("recall", w, d),
    f1: avg("f1", w, d),
    support: n,
  });
  return {
    per,
    macro: both(() => 1, k),
    weighted: both((s) => s.support, n),
    accuracy: n ? yTrue.filter((t, i) => t === yPred[i]).length / n : 0,
  };
}

function close(a: number, b: number, what: string) {
  // both sides are a few f64 operations on small integers: 1e-12 is exact up to rounding
  assert.ok(Math.abs(a - b) <= 1e-12, `${what}: ${a} vs ${b}`);
}

Deno.test("classificationReport: sklearn's documented example", () => {
  // sklearn.metrics.classification_report's docstring: y_true = [0, 1, 2, 2, 2],
  // y_pred = [0, 0, 2, 2, 1] gives (to 2 decimals) class 0: 0.50 1.00 0.67, class 1: 0 0 0,
  // class 2: 1.00 0.67 0.80, accuracy 0.60, macro 0.50 0.56 0.49, weighted 0.70 0.60 0.61
  const r = classificationReport(confusionOf([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], 3), [
    "class 0",
    "class 1",
    "class 2",
  ]);
  const two = (v: number) => Number(v.toFixed(2));
  assert.deepEqual(
    r.perClass.map((s) => [two(s.precision), two(s.recall), two(s.f1), s.support]),
    [[0.5, 1, 0.67, 1], [0, 0, 0, 1], [1, 0.67, 0.8, 3]],
  );
  assert.equal(two(r.accuracy), 0.6);
  assert.deepEqual([two(r.macro.precision), two(r.macro.recall), two(r.macro.f1)], [
    0.5,
    0.56,
    0.49,
  ]);
  assert.deepEqual([two(r.weighted.precision), two(r.weighted.recall), two(r.weighted.f1)], [
    0.7,
    0.6,
    0.61,
  ]);
  assert.equal(r.macro.support, 5);
  const text = formatReport(r);
  assert.match(text, /class 2 +1\.000 +0\.667 +0\.800 +3/);
  assert.match(text, /weighted avg +0\.700 +0\.600 +0\.613 +5/);
  assert.match(text, /zero_division=0/);
});

Deno.test("classificationReport matches a plain computation from label lists (random, with empty classes)", () => {
  const rng = new Rng(7);
  for (const [n, k] of [[50, 4], [200, 10], [3, 6], [0, 3]]) {
    // skewed labels, and class k-1 never occurs nor is predicted when k > 3
    const draw = () => Math.min(k > 3 ? k - 2 : k - 1, Math.floor(rng.next() ** 2 * k));
    const yTrue = Array.from({ length: n }, draw);
    const yPred = yTrue.map((t) => (rng.next() < 0.6 ? t : draw()));
    const got = classificationReport(
      confusionOf(yTrue, yPred, k),
      [...Array(k).keys()].map(String),
    );
    const want = reference(yTrue, yPred, k);
    got.perClass.forEach((s, c) => {
      for (const key of ["precision", "recall", "f1", "support"] as const) {
        close(s[key], want.per[c][key], `n=${n} k=${k} class ${c} ${key}`);
      }
    });
    for (const avg of ["macro", "weighted"] as const) {
      for (const key of ["precision", "recall", "f1", "support"] as const) {
        close(got[avg][key], want[avg][key], `n=${n} k=${k} ${avg} ${key}`);
      }
    }
    close(got.accuracy, want.accuracy, `n=${n} k=${k} accuracy`);
  }
});

Deno.test("classificationReport refuses a matrix that does not fit the classes", () => {
  assert.throws(() => classificationReport([[1, 0], [0, 1]], ["a", "b", "c"]), /must be 3x3/);
});
