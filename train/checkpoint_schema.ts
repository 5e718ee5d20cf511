// The schema of a training checkpoint's metadata (TrainMeta), versioned and checked field
// by field when a checkpoint is read back: a file edited or damaged by hand is refused with
// the field that is wrong, before anything is sized from it (a class count of 10^9 must
// not reach an allocation). The optimizer and scheduler parts are checked by their own
// loadStateDict when they are used.

import { ConfigError, DEFAULT_CONFIG, type TrainConfig, validateConfig } from "./config.ts";

/** Version of the TrainMeta layout; files from before the field existed are version 1.
 * Version 2: a validation split (--val-split) apart from the test split (--test-split, which
 * version 1 called --val-split), resolved automatic settings, best by the validation set. */
export const TRAIN_META_VERSION = 2;
/** Most classes a checkpoint may declare (the head is [classes, 512] float32). */
export const MAX_CLASSES = 100_000;

type Obj = Record<string, unknown>;

export class MetaError extends Error {
  constructor(readonly field: string, detail: string) {
    super(`field "${field}" ${detail}`);
    this.name = "MetaError";
  }
}

function bad(field: string, rule: string, got: unknown): MetaError {
  return new MetaError(field, `must be ${rule}, got ${show(got)}`);
}

function show(v: unknown): string {
  if (v === undefined) return "nothing (the field is missing)";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

function need(ok: boolean, field: string, rule: string, got: unknown): void {
  if (!ok) throw bad(field, rule, got);
}

function nullOr(m: Obj, field: string, check: (v: Obj) => void): void {
  const v = m[field];
  if (v === null) return;
  need(isObj(v), field, "null or an object", v);
  check(v as Obj);
}

function numbers(o: Obj, prefix: string, keys: string[], ok: (x: number) => boolean, rule: string) {
  for (const k of keys) {
    need(typeof o[k] === "number" && ok(o[k] as number), `${prefix}.${k}`, rule, o[k]);
  }
}

/**
 * Checks metadata read from a checkpoint against the TrainMeta schema; returns it with the
 * config completed by defaults for keys added after the file was written. Throws MetaError
 * (or ConfigError for the run's config) naming the field.
 */
export function validateTrainMeta(meta: unknown, kind: string): Obj {
  need(isObj(meta), "(metadata)", "an object", meta);
  const m = meta as Obj;
  need(m.kind === kind, "kind", JSON.stringify(kind), m.kind);
  const version = m.schema ?? 1;
  need(
    Number.isInteger(version) && (version as number) >= 1,
    "schema",
    "a version number",
    version,
  );
  if ((version as number) > TRAIN_META_VERSION) {
    throw bad(
      "schema",
      `at most ${TRAIN_META_VERSION} (the file was written by a newer version of this tool; ` +
        `use that version)`,
      version,
    );
  }

  need(isObj(m.model), "model", "an object {arch, numClasses, inChannels, stages}", m.model);
  const model = m.model as Obj;
  need(model.arch === "resnet18", "model.arch", '"resnet18"', model.arch);
  need(
    Number.isInteger(model.numClasses) && (model.numClasses as number) >= 2 &&
      (model.numClasses as number) <= MAX_CLASSES,
    "model.numClasses",
    `an integer in [2, ${MAX_CLASSES}]`,
    model.numClasses,
  );
  need(
    model.inChannels === 1 || model.inChannels === 3,
    "model.inChannels",
    "1 or 3",
    model.inChannels,
  );
  need(
    Number.isInteger(model.stages) && (model.stages as number) >= 1 &&
      (model.stages as number) <= 4,
    "model.stages",
    "an integer in [1, 4]",
    model.stages,
  );

  const n = model.numClasses as number;
  need(
    Array.isArray(m.classes) && m.classes.length === n &&
      m.classes.every((c) => typeof c === "string" && c !== ""),
    "classes",
    `a list of ${n} class names (model.numClasses)`,
    m.classes,
  );
  need(
    new Set(m.classes as string[]).size === n,
    "classes",
    "a list of distinct names",
    m.classes,
  );

  need(isObj(m.config), "config", "an object (the run's settings)", m.config);
  const config = { ...DEFAULT_CONFIG, ...(m.config as Obj) } as TrainConfig;
  if ((version as number) < 2) upgradeConfigFromV1(config, m.config as Obj);
  need(
    Array.isArray(config.classes) && config.classes.every((c) => typeof c === "string"),
    "config.classes",
    "a list of class names",
    config.classes,
  );
  need(typeof config.data === "string", "config.data", "a path", config.data);
  try {
    validateConfig(config);
  } catch (e) {
    if (e instanceof ConfigError) {
      throw new MetaError(`config.${e.key}`, `is invalid: ${e.message}`);
    }
    throw e;
  }

  // a checkpoint records the settings used, never an automatic value (v1 ones are upgraded)
  const resolved: [keyof TrainConfig, boolean, string][] = [
    ["imageSize", config.imageSize >= 8, "--image-size must be an integer >= 8"],
    ["evalResize", config.evalResize >= 1, "--eval-resize must be an integer >= 1"],
  ];
  for (const [key, ok, rule] of resolved) {
    if (!ok) throw new MetaError(`config.${key}`, `is invalid: ${rule} (the size used)`);
  }
  for (const k of ["epoch", "batch", "iteration"]) {
    need(isCount(m[k]), k, "a non-negative integer", m[k]);
  }
  nullOr(m, "partial", (p) => {
    numbers(p, "partial", ["lossSum"], Number.isFinite, "a finite number");
    numbers(p, "partial", ["correct", "samples", "invalid"], (x) => x >= 0, "a count >= 0");
  });
  nullOr(m, "best", (b) => {
    numbers(b, "best", ["accuracy"], (x) => x >= 0 && x <= 1, "a fraction in [0, 1]");
    numbers(b, "best", ["loss"], Number.isFinite, "a finite number");
    need(
      Number.isInteger(b.epoch) && (b.epoch as number) >= 1,
      "best.epoch",
      "an epoch >= 1",
      b.epoch,
    );
  });
  const metrics = (field: string) => (t: Obj) => {
    numbers(t, field, ["accuracy"], (x) => x >= 0 && x <= 1, "a fraction in [0, 1]");
    numbers(t, field, ["loss"], Number.isFinite, "a finite number");
  };
  nullOr(m, "test", metrics("test"));
  if (m.val !== undefined) nullOr(m, "val", metrics("val"));
  if (isObj(m.best)) {
    const b = m.best as Obj;
    if (b.set !== undefined) {
      need(b.set === "validation" || b.set === "test", "best.set", '"validation" or "test"', b.set);
    }
    if (b.test !== undefined) nullOr(b, "test", metrics("best.test"));
  }
  if (m.splits !== undefined) {
    need(typeof m.splits === "string", "splits", "a string (the splits' fingerprint)", m.splits);
  }
  for (const k of ["frozen", "interrupted"]) {
    need(typeof m[k] === "boolean", k, "true or false", m[k]);
  }
  for (const k of ["optim", "scheduler"]) {
    need(m[k] === null || isObj(m[k]), k, "null or an object", m[k]);
  }
  return { ...m, schema: version, config };
}

/**
 * A version-1 run, resumed or evaluated, keeps its data and preprocessing: its --val-split
 * was the test split held out of data without one, it had no validation split, and an eval
 * resize of 0 meant the image size.
 */
function upgradeConfigFromV1(config: TrainConfig, old: Obj): void {
  config.testSplit = typeof old.valSplit === "number" ? old.valSplit : 0.2;
  config.valSplit = 0;
  if (!config.imageSize) config.imageSize = 32;
  if (!config.evalResize) config.evalResize = config.imageSize;
}
