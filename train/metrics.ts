// Per-class precision, recall, F1 and support from a confusion matrix, with their macro and
// support-weighted averages: sklearn's classification_report(y_true, y_pred,
// labels=range(C), zero_division=0). A ratio whose denominator is 0 (a class never predicted,
// or with no samples) is 0, as zero_division=0 makes it; every class of the model counts in
// the macro average, present in the data or not.

/** The scores of one class (or their average). */
export interface ClassScores {
  /** Of the samples predicted as this class, the share that are (tp / (tp + fp)). */
  precision: number;
  /** Of the samples of this class, the share predicted as it (tp / (tp + fn)). */
  recall: number;
  /** The harmonic mean of precision and recall. */
  f1: number;
  /** Samples whose true class this is. */
  support: number;
}

/** What classificationReport computes: sklearn's classification_report as data. */
export interface ClassificationReport {
  /** Class names; perClass[k] and confusion row/column k are classes[k]. */
  classes: string[];
  /** Each class's scores. */
  perClass: ClassScores[];
  /** The unweighted mean of the per-class scores; support is the total. */
  macro: ClassScores;
  /** The mean weighted by support (0 when there are no samples); support is the total. */
  weighted: ClassScores;
  /** Correct predictions / samples (0 without samples). */
  accuracy: number;
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);

/** The report of confusion[true][predicted] counts for the named classes. */
export function classificationReport(
  confusion: readonly (readonly number[])[],
  classes: readonly string[],
): ClassificationReport {
  const k = classes.length;
  if (confusion.length !== k || confusion.some((row) => row.length !== k)) {
    throw new RangeError(
      `classificationReport: the confusion matrix must be ${k}x${k} for ${k} classes`,
    );
  }
  const perClass: ClassScores[] = classes.map((_, c) => {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c], 0);
    const precision = ratio(tp, predicted), recall = ratio(tp, support);
    return { precision, recall, f1: ratio(2 * precision * recall, precision + recall), support };
  });
  const total = perClass.reduce((a, s) => a + s.support, 0);
  const mean = (weightOf: (s: ClassScores) => number, sum: number): ClassScores => {
    const avg = (key: "precision" | "recall" | "f1") =>
      ratio(perClass.reduce((a, s) => a + weightOf(s) * s[key], 0), sum);
    return { precision: avg("precision"), recall: avg("recall"), f1: avg("f1"), support: total };
  };
  const correct = classes.reduce((a, _, c) => a + confusion[c][c], 0);
  return {
    classes: [...classes],
    perClass,
    macro: mean(() => 1, k),
    weighted: mean((s) => s.support, total),
    accuracy: ratio(correct, total),
    confusion: confusion.map((row) => [...row]),
  };
}

/** The report as sklearn prints it: a row per class, then accuracy and the two averages. */
export function formatReport(r: ClassificationReport): string {
  const name = Math.max(12, ...r.classes.map((c) => c.length));
  const num = (v: number) => v.toFixed(3).padStart(10);
  const support = (n: number) => String(n).padStart(10);
  const row = (label: string, s: ClassScores) =>
    label.padStart(name) + num(s.precision) + num(s.recall) + num(s.f1) + support(s.support);
  return [
    " ".repeat(name) + ["precision", "recall", "f1-score", "support"].map((h) => h.padStart(10))
      .join(""),
    ...r.classes.map((c, i) => row(c, r.perClass[i])),
    "",
    "accuracy".padStart(name) + " ".repeat(20) + num(r.accuracy) + support(r.macro.support),
    row("macro avg", r.macro),
    row("weighted avg", r.weighted),
    "(a score whose denominator is 0 is written as 0, as sklearn's zero_division=0)",
  ].join("\n");
}
