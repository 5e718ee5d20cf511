// What a learning-rate schedule is to the training loop, and how one registers itself: a
// name, its options (each a config key, hence a flag: --plateau-factor is plateauFactor), the
// help and a factory. train/schedulers/mod.ts lists the entries; the config's defaults and
// validation, the CLI's flags and help, and fit's scheduler hook all derive from that list.

import type { HasParamGroups, LrReduction } from "../../nn/schedulers.ts";

/** An epoch's metrics, for schedules that watch one (ReduceLROnPlateau); NaN for a set the
 * run does not have. */
export interface EpochMetrics {
  trainLoss: number;
  valLoss: number;
  valAccuracy: number;
  testLoss: number;
  testAccuracy: number;
}

export interface Schedule {
  /** "epoch": stepped after each epoch; "iteration": after each optimizer step. */
  readonly per: "epoch" | "iteration";
  /** Advances the schedule; returns the lr cuts to report (only ReduceLROnPlateau cuts). */
  step(metrics: EpochMetrics | null): LrReduction[];
  stateDict(): Record<string, unknown>;
  loadStateDict(state: Record<string, unknown>): void;
}

/** One option of a registered piece: a config key with its flag's type, default and rule. */
export interface OptionSpec<V> {
  type: "int" | "number" | "bool" | "choice";
  choices?: readonly string[];
  default: V;
  help: string;
  /** What a valid value is, as the error message says it ("an integer >= 1"). */
  rule: string;
  valid(value: V): boolean;
}

export type OptionSpecs<O> = { [K in keyof O]: OptionSpec<O[K]> };

/** What every schedule may read besides its own options: `minLr` is declared by the plateau
 * entry and `cosineTMax` by the cosine entry; the warmup-cosine schedule reads both. */
export interface ScheduleBase {
  epochs: number;
  minLr: number;
  cosineTMax: number;
}

/** A value of an option that does not fit the run (the CLI names the key's flag). */
export class OptionError extends Error {
  constructor(readonly key: string, message: string) {
    super(message);
    this.name = "OptionError";
  }
}

export interface SchedulerEntry<O> {
  /** The value of --scheduler. */
  name: string;
  options: OptionSpecs<O>;
  create(
    config: O & ScheduleBase,
    optimizer: HasParamGroups,
    run: { itersPerEpoch: number },
  ): Schedule | null;
}

/** An epoch scheduler of nn/sched as a Schedule (it cuts nothing to report). */
export function stepped(
  per: Schedule["per"],
  s: { step(): unknown; stateDict(): object; loadStateDict(s: Record<string, unknown>): void },
): Schedule {
  return {
    per,
    step: () => {
      s.step();
      return [];
    },
    stateDict: () => s.stateDict() as Record<string, unknown>,
    loadStateDict: (state) => s.loadStateDict(state),
  };
}

export const int = (min: number) => ({
  type: "int" as const,
  rule: `an integer >= ${min}`,
  valid: (v: number) => Number.isInteger(v) && v >= min,
});
