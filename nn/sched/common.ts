// Pieces shared by the learning-rate schedulers: the minimal view of an optimizer they act on,
// argument checks, and the JSON encoding of non-finite numbers in state dicts.

/** One parameter group as a scheduler sees it: its current lr and, once a scheduler has been
 * attached, the lr it started from (PyTorch's `initial_lr`). */
export interface ParamGroupLike {
  /** The group's current learning rate. */
  lr: number;
  /** The lr the first scheduler attached started from. */
  initialLr?: number;
}

/** The only thing a scheduler needs from an optimizer: its parameter groups, whose `lr` it reads
 * and writes. SGD, Adam and AdamW satisfy this structurally. */
export interface HasParamGroups {
  /** The groups whose `lr` a scheduler reads and writes. */
  paramGroups: ParamGroupLike[];
}

/** A number as stored in a state dict: JSON has no Infinity or NaN, so those travel as strings. */
export type JsonNumber = number | "Infinity" | "-Infinity" | "NaN";

export function encodeNumber(x: number): JsonNumber {
  if (Number.isFinite(x)) return x;
  if (Number.isNaN(x)) return "NaN";
  return x > 0 ? "Infinity" : "-Infinity";
}

export function decodeNumber(x: unknown, where: string): number {
  if (typeof x === "number") return x;
  if (x === "Infinity") return Infinity;
  if (x === "-Infinity") return -Infinity;
  if (x === "NaN") return NaN;
  throw new TypeError(
    `${where}: expected a number (or "Infinity"/"-Infinity"/"NaN"), got ${show(x)}`,
  );
}

export function show(x: unknown): string {
  try {
    return typeof x === "string" ? JSON.stringify(x) : String(x);
  } catch {
    return Object.prototype.toString.call(x);
  }
}

/** A real number, not NaN. Infinities are allowed where PyTorch would accept them. */
export function checkNumber(x: unknown, name: string): number {
  if (typeof x !== "number" || Number.isNaN(x)) {
    throw new TypeError(`${name} must be a number, got ${show(x)}`);
  }
  return x;
}

export function checkInteger(x: unknown, name: string, min: number): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${show(x)}`);
  }
  return x;
}

export function checkOptimizer(optimizer: HasParamGroups, who: string): ParamGroupLike[] {
  const groups = optimizer?.paramGroups;
  if (!Array.isArray(groups)) {
    throw new TypeError(
      `${who}: expected an optimizer with a paramGroups array, got ${show(optimizer)}`,
    );
  }
  if (groups.length === 0) throw new RangeError(`${who}: the optimizer has no parameter groups`);
  groups.forEach((g, i) => checkNumber(g?.lr, `${who}: paramGroups[${i}].lr`));
  return groups;
}

/** Schedulers remember per-group values; a group added or removed later would silently go
 * unscheduled (PyTorch zips the lists), so say so instead. */
export function checkGroupCount(groups: ParamGroupLike[], expected: number, who: string): void {
  if (groups.length !== expected) {
    throw new RangeError(
      `${who}: the optimizer now has ${groups.length} parameter groups but the scheduler was set ` +
        `up for ${expected}; create the scheduler after adding all parameter groups`,
    );
  }
}

export function readRecord(state: unknown, kind: string): Record<string, unknown> {
  if (state === null || typeof state !== "object" || Array.isArray(state)) {
    throw new TypeError(`${kind}.loadStateDict: expected an object, got ${show(state)}`);
  }
  const record = state as Record<string, unknown>;
  if (record.scheduler !== kind) {
    throw new TypeError(
      `${kind}.loadStateDict: this state dict belongs to ${show(record.scheduler)}, not ${kind}`,
    );
  }
  return record;
}

export function readNumberList(
  record: Record<string, unknown>,
  key: string,
  length: number,
  kind: string,
): number[] {
  const value = record[key];
  const where = `${kind}.loadStateDict: ${key}`;
  if (!Array.isArray(value)) throw new TypeError(`${where} must be an array, got ${show(value)}`);
  if (value.length !== length) {
    throw new RangeError(
      `${where} has ${value.length} entries but the optimizer has ${length} parameter groups`,
    );
  }
  return value.map((v, i) => decodeNumber(v, `${where}[${i}]`));
}
