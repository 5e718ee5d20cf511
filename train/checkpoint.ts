// Training checkpoint files (train/train_state.ts says what they hold) on top of
// nn/io/checkpoint.ts: written atomically, read back checked against the schema.

import { loadCheckpoint, saveCheckpoint, tensorsUnder } from "../nn/io/checkpoint.ts";
import { assertFinite } from "../nn/io/finite.ts";
import { MetaError, validateTrainMeta } from "./checkpoint_schema.ts";
import { asCheckpoint, TRAIN_STATE_KIND, type TrainMeta, type TrainState } from "./train_state.ts";

export {
  asCheckpoint,
  type PartialEpoch,
  serializeTrainState,
  TRAIN_STATE_KIND,
  type TrainMeta,
  type TrainState,
} from "./train_state.ts";

export async function saveTrainState(path: string, s: TrainState): Promise<void> {
  await saveCheckpoint(path, asCheckpoint(s));
}

/**
 * Reads a checkpoint written by saveTrainState, its metadata checked against the schema and
 * its model refused when it holds NaN or infinity (unless allowed); `flag` names the option
 * in errors.
 */
export async function loadTrainState(
  path: string,
  flag: string,
  options: { allowNonFinite?: boolean } = {},
): Promise<TrainState> {
  let ckpt;
  try {
    ckpt = await loadCheckpoint(path);
  } catch (e) {
    throw new Error(`${flag}: ${(e as Error).message}`);
  }
  const raw = ckpt.meta as { kind?: unknown } | null;
  if (!raw || typeof raw !== "object" || raw.kind !== TRAIN_STATE_KIND) {
    throw new Error(`${flag}: ${path} is a checkpoint, but not one written by 'cli.ts train'`);
  }
  let meta: TrainMeta;
  try {
    meta = validateTrainMeta(raw, TRAIN_STATE_KIND) as unknown as TrainMeta;
  } catch (e) {
    if (!(e instanceof MetaError)) throw e;
    throw new Error(
      `${flag}: ${path}: the checkpoint's metadata ${e.message}; the file was edited or ` +
        `damaged: use another checkpoint of the run (best/last) or train again`,
    );
  }
  const model = tensorsUnder(ckpt.tensors, "model.");
  const head = model.get("fc.weight");
  if (!head || head.shape.length !== 2 || head.shape[0] !== meta.classes.length) {
    throw new Error(
      `${flag}: ${path}: the head fc.weight is ${head ? `[${head.shape}]` : "missing"} but the ` +
        `metadata lists ${meta.classes.length} classes; the file was edited or damaged`,
    );
  }
  if (!options.allowNonFinite) {
    assertFinite(
      model,
      `${flag}: ${path}`,
      "the model diverged or the file is damaged (--allow-non-finite-weights loads it anyway)",
    );
  }
  const optim = tensorsUnder(ckpt.tensors, "optim.");
  return { model, optim: meta.optim ? optim : null, meta };
}
