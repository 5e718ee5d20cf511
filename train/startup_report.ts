// What a run will use, as the one block of lines printed before it trains: the data and its
// splits with the images per class, the weights and strategy, the input (size, eval resize,
// normalisation, channels), the optimizer with each group's lr, batch, epochs, schedule,
// which set picks the best checkpoint, early stopping, and warnings (imbalanced classes,
// inputs too small for ImageNet weights).

import { flagOf, type TrainConfig } from "./config.ts";
import { countPerClass } from "./splits.ts";
import { PARAM_GROUP_NAMES } from "./optim.ts";
import { formatLr } from "./fit_events.ts";
import { RECIPES } from "./recipes.ts";
import { SCHEDULER_ENTRIES } from "./schedulers/mod.ts";
import type { Prepared } from "./prepared.ts";
import { normalization } from "./transforms.ts";

/** Largest over smallest class count above which the training classes count as imbalanced. */
export const IMBALANCE_RATIO = 2;

const round = (x: number) => Number(x.toPrecision(4));

/** The images per class of each split, as aligned rows. */
function countTable(p: Prepared): string[] {
  const sets = [["train", p.data.train], ["val", p.data.val], ["test", p.data.test]] as const;
  const present = sets.filter(([, ds]) => ds !== null);
  const counts = present.map(([, ds]) => countPerClass(ds!));
  const names = p.data.classes;
  const w = Math.max(16, ...names.map((n) => n.length));
  const cell = Math.max(6, ...counts.flat().map((c) => String(c).length + 1));
  return [
    `  ${"images per class:".padEnd(w + 2)}${present.map(([n]) => n.padStart(cell)).join("")}`,
    ...names.map((n, k) =>
      `    ${n.padEnd(w)}${counts.map((c) => String(c[k]).padStart(cell)).join("")}`
    ),
  ];
}

/** A warning when the largest training class has more than IMBALANCE_RATIO x the smallest. */
export function imbalanceWarning(classes: string[], counts: number[]): string | null {
  const max = Math.max(...counts), min = Math.min(...counts);
  if (min <= 0 || max / min <= IMBALANCE_RATIO) return null;
  const big = classes[counts.indexOf(max)], small = classes[counts.indexOf(min)];
  return `warning: the training classes are imbalanced (largest/smallest ${
    (max / min).toFixed(1)
  }: "${big}" ${max}, "${small}" ${min} images); consider --class-weights balanced or ` +
    `--balanced-sampler`;
}

function schedulerText(c: TrainConfig): string {
  const entry = SCHEDULER_ENTRIES.find((e) => e.name === c.scheduler);
  const keys = Object.keys(entry?.options ?? {}) as (keyof TrainConfig)[];
  const opts = keys.map((k) => `${flagOf(k)} ${c[k]}`).join(", ");
  return opts ? `${c.scheduler} (${opts})` : c.scheduler;
}

function optimizerText(p: Prepared): string {
  const c = p.config;
  const extra = c.optimizer === "sgd"
    ? [`momentum ${c.momentum}`, ...(c.nesterov ? ["nesterov"] : [])]
    : [];
  extra.push(`weight decay ${c.weightDecay}`);
  if (c.labelSmoothing > 0) extra.push(`label smoothing ${c.labelSmoothing}`);
  const groups = p.optimizer.paramGroups.map((g, i) => {
    const frozen = i === 0 && p.start.frozen
      ? c.strategy === "freeze-unfreeze"
        ? ` (frozen until epoch ${c.freezeEpochs + 1}${
          c.unfreezeLr > 0 ? `, then ${formatLr(c.unfreezeLr)}` : ""
        })`
        : " (frozen)"
      : "";
    return `${PARAM_GROUP_NAMES[i] ?? `group ${i}`} ${formatLr(g.lr)}${frozen}`;
  });
  return `  optimizer: ${c.optimizer} (${extra.join(", ")}); lr: ${groups.join(", ")}`;
}

function selectionText(p: Prepared): string[] {
  const c = p.config, given = p.given;
  const lines: string[] = [];
  if (p.data.val) {
    lines.push(
      "  best checkpoint: the epoch with the best validation accuracy (ties: the lower " +
        "validation loss); the test set is evaluated every epoch for the curves and the report, " +
        "never to choose",
    );
  } else {
    const recipe = RECIPES[given.recipe];
    const byRecipe = recipe?.config.valSplit === 0 && given.valSplit === 0;
    lines.push(
      `  best checkpoint: the epoch with the best TEST accuracy, since there is no validation ` +
        `set (${
          byRecipe
            ? `the ${given.recipe} recipe selects on the test set, as its source does`
            : "--val-split 0"
        }; --val-split 0.1 holds one out); the test accuracy reported is then optimistic`,
    );
  }
  if (c.scheduler === "plateau" && c.plateauMetric.startsWith("test-") && p.data.val) {
    lines.push(
      `  note: ReduceLROnPlateau watches the test set (--plateau-metric ${c.plateauMetric}) ` +
        `although there is a validation set; --plateau-metric ${
          c.plateauMetric.replace("test-", "val-")
        } watches that instead`,
    );
  }
  lines.push(
    c.earlyStop > 0
      ? `  early stopping: after ${c.earlyStop} epoch${
        c.earlyStop > 1 ? "s" : ""
      } without a better validation accuracy ` +
        `(--early-stop ${c.earlyStop})`
      : "  early stopping: off (--early-stop N to stop after N epochs without improvement)",
  );
  return lines;
}

function inputText(p: Prepared): string[] {
  const c = p.config, why = p.why;
  const because = (key: string) => (why[key] ? ` (${why[key]})` : "");
  const known = p.data.knownSize;
  const asIs = known && known[0] === c.imageSize && known[1] === c.imageSize &&
    c.evalResize === c.imageSize;
  const norm = normalization(c, c.inChannels);
  const channels = p.data.channels === c.inChannels
    ? `${c.inChannels}`
    : `${c.inChannels} (the images have ${p.data.channels}: ${
      c.inChannels === 3 ? "gray replicated" : "converted to gray"
    })`;
  return [
    `  image size: ${c.imageSize}x${c.imageSize}${
      because("imageSize")
    }; augmentation: ${c.augment}`,
    `  eval resize: ${
      asIs
        ? `none (every image is ${known![0]}x${known![1]})`
        : `Resize(${c.evalResize}) + CenterCrop(${c.imageSize})${because("evalResize")}`
    }`,
    `  normalisation: ${c.normalize}${
      norm
        ? ` (mean ${norm.mean.map(round).join(", ")}; std ${norm.std.map(round).join(", ")})`
        : ""
    }${because("normalize")}`,
    `  input channels: ${channels}${because("inChannels")}`,
  ];
}

/** The start-up block: every line of what the run will use. */
export function startupReport(p: Prepared): string[] {
  const c = p.config;
  const warnings = [...p.warnings];
  const imbalance = imbalanceWarning(p.data.classes, countPerClass(p.data.train));
  if (imbalance) warnings.push(imbalance);
  return [
    "settings:",
    ...p.notes.map((n) => `  ${n}`),
    ...countTable(p),
    ...inputText(p),
    optimizerText(p),
    `  batch ${c.batchSize}, ${c.epochs} epoch${c.epochs > 1 ? "s" : ""}, scheduler: ${
      schedulerText(c)
    }`,
    ...selectionText(p),
    ...warnings,
  ];
}
