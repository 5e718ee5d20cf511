// The registries (schedules, optimizers, augmentation sets) are the one list that config
// defaults, validation, the train flags and --help derive from: each registered option has a
// default, a flag and a check that names the flag.

import assert from "node:assert/strict";
import { TRAIN_FLAGS } from "../../cli/train_flags.ts";
import { AUGMENT_NAMES } from "../../train/augments.ts";
import {
  AUGMENTS,
  DEFAULT_CONFIG,
  flagOf,
  OPTIMIZERS,
  SCHEDULERS,
  type TrainConfig,
  validateConfig,
} from "../../train/config.ts";
import { OPTIMIZER_NAMES } from "../../train/optimizers.ts";
import { SCHEDULER_ENTRIES, SCHEDULER_OPTIONS } from "../../train/schedulers/mod.ts";

const flag = (name: string) => TRAIN_FLAGS.find((f) => f.name === name);

Deno.test("every registered schedule option has a default, a flag and a check naming it", () => {
  assert.deepEqual(SCHEDULERS, SCHEDULER_ENTRIES.map((e) => e.name));
  assert.deepEqual(flag("scheduler")?.choices, SCHEDULERS);
  for (const [key, spec] of SCHEDULER_OPTIONS) {
    assert.equal((DEFAULT_CONFIG as unknown as Record<string, unknown>)[key], spec.default, key);
    const f = flag(flagOf(key).slice(2));
    assert.ok(f, `${key} has no flag`);
    assert.equal(f.help, spec.help);
    assert.ok(spec.valid(spec.default as never), `${key}: its default is valid`);
    const bad = spec.type === "choice" ? "nonsense" : -1;
    if (spec.valid(bad as never)) continue; // e.g. no lower bound
    const config = { ...DEFAULT_CONFIG, [key]: bad } as TrainConfig;
    assert.throws(
      () => validateConfig(config),
      new RegExp(`${flagOf(key)} must be ${spec.rule.replace(/[()[\]]/g, "\\$&")}`),
    );
  }
});

Deno.test("optimizers and augmentation sets come from their registries", () => {
  assert.deepEqual(OPTIMIZERS, OPTIMIZER_NAMES);
  assert.deepEqual(flag("optimizer")?.choices, OPTIMIZER_NAMES);
  assert.deepEqual(AUGMENTS, AUGMENT_NAMES);
  assert.deepEqual(flag("augment")?.choices, AUGMENT_NAMES);
  assert.throws(
    () => validateConfig({ ...DEFAULT_CONFIG, scheduler: "onecycle" }),
    /--scheduler must be one of none, plateau, step, cosine, warmup-cosine/,
  );
});
