// The registry of learning-rate schedules: the values of --scheduler, in --help order. The
// config's defaults and checks (train/config.ts), the flags and help (cli/train_flags.ts)
// and fit's scheduler hook derive from this list. Adding a schedule: its file here (an
// entry: name, options, factory), its test, one line in SCHEDULER_ENTRIES and its options in
// SchedulerOptions (a type check holds the two equal).

import type { Same } from "../../base/same_type.ts";
import type { HasParamGroups } from "../../nn/schedulers.ts";
import { cosine, type CosineOptions } from "./cosine.ts";
import { plateau, type PlateauOptions } from "./plateau.ts";
import type { OptionSpec, Schedule, ScheduleBase, SchedulerEntry } from "./schedule.ts";
import { step, type StepOptions } from "./step.ts";
import { warmupCosine, type WarmupCosineOptions } from "./warmup_cosine.ts";

const none: SchedulerEntry<Record<never, never>> = {
  name: "none",
  options: {},
  create: () => null,
};

export const SCHEDULER_ENTRIES = [none, plateau, step, cosine, warmupCosine] as const;

type OptionsOf<E> = E extends SchedulerEntry<infer O> ? O : never;
type Intersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I
  : never;

/**
 * Every schedule's options, as config keys. Spelled out (rather than derived) so that the
 * public config type is plain; the check below keeps it equal to what SCHEDULER_ENTRIES
 * declares, so a schedule added there must be added here too.
 */
export type SchedulerOptions = PlateauOptions & StepOptions & CosineOptions & WarmupCosineOptions;
type Derived = Intersection<OptionsOf<typeof SCHEDULER_ENTRIES[number]>>;
// a type error here: SchedulerOptions and the registry's options differ
const _SCHEDULER_OPTIONS_MATCH: Same<SchedulerOptions, Derived> = true;

export const SCHEDULER_NAMES: readonly string[] = SCHEDULER_ENTRIES.map((e) => e.name);

/** [config key, spec] of every schedule's options, in --help order. */
export const SCHEDULER_OPTIONS: readonly [keyof SchedulerOptions, OptionSpec<unknown>][] =
  SCHEDULER_ENTRIES.flatMap((e) =>
    Object.entries(e.options) as [keyof SchedulerOptions, OptionSpec<unknown>][]
  );

/** The default of every schedule's options. */
export function schedulerDefaults(): SchedulerOptions {
  return Object.fromEntries(
    SCHEDULER_OPTIONS.map(([k, spec]) => [k, spec.default]),
  ) as unknown as SchedulerOptions;
}

/** The schedule `name` asks for, or null for "none". */
export function createSchedule(
  name: string,
  config: SchedulerOptions & ScheduleBase,
  optimizer: HasParamGroups,
  run: { itersPerEpoch: number },
): Schedule | null {
  const entry = SCHEDULER_ENTRIES.find((e) => e.name === name);
  if (!entry) throw new Error(`no scheduler named "${name}" (${SCHEDULER_NAMES.join(", ")})`);
  return (entry as SchedulerEntry<SchedulerOptions>).create(config, optimizer, run);
}
