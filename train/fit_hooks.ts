// The small parts fit() calls around its epochs, each emitting what it did as an event:
// unfreezing the backbone (freeze-unfreeze), stepping the schedule (per epoch or per
// iteration) and writing the checkpoints.

import { describeNonFinite, nonFiniteTensors } from "../nn/io/finite.ts";
import type { ResNet } from "../nn/resnet.ts";
import type { TrainMeta } from "./train_state.ts";
import type { TrainConfig } from "./config.ts";
import type { FitEventSink } from "./fit_events.ts";
import { setBackboneFrozen } from "./backbone.ts";
import { type AnyOptimizer, PARAM_GROUP_NAMES, setLr } from "./optim.ts";
import type { RunOutput } from "./run_output.ts";
import type { EpochMetrics, Schedule } from "./schedulers/schedule.ts";

/** freeze-unfreeze: unfreezes the backbone at the start of epoch `freezeEpochs` (0-based);
 * returns whether the backbone is still frozen. */
export function unfreezeIfDue(
  config: TrainConfig,
  model: ResNet,
  optimizer: AnyOptimizer,
  epoch: number,
  frozen: boolean,
  emit: FitEventSink,
): boolean {
  if (config.strategy !== "freeze-unfreeze" || !frozen || epoch < config.freezeEpochs) {
    return frozen;
  }
  setBackboneFrozen(model, false, config.freezeBatchNorm);
  if (config.unfreezeLr > 0) setLr(optimizer, config.unfreezeLr, config.headLrMult);
  emit({
    type: "unfreeze",
    epoch: epoch + 1,
    lr: config.unfreezeLr > 0 ? config.unfreezeLr : null,
  });
  return false;
}

/** Steps `schedule` if it steps at `when`, and reports its lr cuts. */
export function stepSchedule(
  schedule: Schedule | null,
  when: Schedule["per"],
  metrics: EpochMetrics | null,
  epoch: number,
  emit: FitEventSink,
): void {
  if (!schedule || schedule.per !== when) return;
  for (const r of schedule.step(metrics)) {
    emit({
      type: "lr-change",
      epoch: epoch + 1,
      group: r.group,
      groupName: PARAM_GROUP_NAMES[r.group] ?? `group ${r.group}`,
      oldLr: r.oldLr,
      newLr: r.newLr,
      reason: "plateau",
    });
  }
}

/** Writes the last (and maybe best) checkpoint; the model's state is read back once and
 * refused, as `diverged(what, where)`, when it holds NaN or infinity. */
export class CheckpointWriter {
  constructor(
    private readonly model: ResNet,
    private readonly optimizer: AnyOptimizer,
    private readonly output: RunOutput,
    private readonly diverged: (what: string, where: string) => Error,
  ) {}

  private async finiteState(where: string) {
    const state = await this.model.stateDict(); // one readback for all tensors
    const bad = nonFiniteTensors(state);
    if (bad.length) throw this.diverged(`the weights (${describeNonFinite(bad, 3)})`, where);
    return state;
  }

  /** `meta(optim)` builds the metadata, given the optimizer's (null for best). */
  async save(
    slots: { best: boolean },
    meta: (optim: TrainMeta["optim"]) => TrainMeta,
    where: string,
  ): Promise<void> {
    const model = await this.finiteState(where);
    if (slots.best) {
      await this.output.saveCheckpoint("best", { model, optim: null, meta: meta(null) });
    }
    const sd = await this.optimizer.stateDict();
    await this.output.saveCheckpoint("last", {
      model,
      optim: sd.tensors,
      meta: meta(sd.meta),
    });
  }
}
