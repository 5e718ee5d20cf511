// The training page's Worker: it owns the GPU device, the run and the trained model, so the
// page stays responsive while a step runs. It opens what the user picked (web/open_data.ts),
// assembles the run as the CLI does (train/prepared.ts), runs fit() with results in memory,
// posts every FitEvent, and keeps the best model to predict with.

import {
  assemblePrepared,
  assertFinite,
  buildModel,
  chooseInChannels,
  decodeCheckpoint,
  decodeImage,
  decodeWeightFile,
  fit,
  initGpu,
  MemoryOutput,
  openTree,
  pickedTree,
  predictImages,
  type Prepared,
  recipeConfig,
  resolveRun,
  splitFingerprint,
  type StopFlag,
  type TrainConfig,
  type Trained,
  type TrainMeta,
  validateConfig,
  type WeightFile,
} from "../web.ts";
import { tensorsUnder } from "../nn/io/checkpoint_bytes.ts";
import { GpuError } from "../kernels/errors.ts";
import { firstStep } from "./first_step.ts";
import type { FromWorker, RunRequest, ToWorker } from "./protocol.ts";

// the dedicated worker scope, typed by hand (the check uses the DOM library, not WebWorker's)
const scope = self as unknown as {
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
};
const post = (m: FromWorker, transfer?: Transferable[]) => scope.postMessage(m, transfer);

let stop: StopFlag | null = null;
let trained: Trained | null = null;
let adapterPosted = false;

async function gpuReady(): Promise<void> {
  const g = await initGpu();
  if (!adapterPosted) {
    adapterPosted = true;
    post({ type: "adapter", description: g.profile.description });
  }
}

/** The run a request describes, assembled as `cli.ts train` would (loading in this thread). */
function prepare(r: RunRequest): Prepared {
  const given: TrainConfig = {
    ...recipeConfig(r.recipe === "none" ? undefined : r.recipe),
    ...r.overrides,
    data: r.files.length === 1 ? r.files[0].path : r.files[0]?.path.split("/")[0] ?? "",
    weights: r.weights?.path ?? "",
    workers: 0, // this Worker decodes: a page cannot start Deno's loader Workers
    cache: false,
  };
  validateConfig(given);
  let weights: WeightFile | null = null;
  if (r.weights) {
    weights = decodeWeightFile(r.weights.bytes, r.weights.path);
    if (!given.allowNonFiniteWeights) {
      assertFinite(weights.dict, r.weights.path, "the file is damaged or from a diverged run");
    }
  }
  const inChannels = chooseInChannels(given, 3, weights?.dict ?? null);
  const { config, trainedWith } = resolveRun(given, weights, inChannels);
  const tree = pickedTree(r.files);
  const data = openTree(tree, config, inChannels);
  // named as messages name them: the picked folder (or zip) first
  post({ type: "skipped", files: data.skipped.map((s) => ({ ...s, file: tree.display(s.file) })) });
  return assemblePrepared({
    config,
    given,
    trainedWith,
    data,
    splits: splitFingerprint(data),
    inChannels,
    weights: weights && { dict: weights.dict, name: r.weights!.path },
    closeData: () => {},
    warn: (message) => post({ type: "warning", message }),
  });
}

/** The model of a best checkpoint, in eval mode, to predict with. */
function loadBest(bytes: Uint8Array): Trained {
  const ckpt = decodeCheckpoint(bytes, "best.safetensors");
  const meta = ckpt.meta as unknown as TrainMeta;
  const model = buildModel(meta.model, 0);
  model.loadStateDict(tensorsUnder(ckpt.tensors, "model."));
  model.eval();
  return { model, meta };
}

async function train(r: RunRequest): Promise<void> {
  await gpuReady();
  const p = prepare(r);
  post({ type: "notes", lines: p.notes });
  stop = { requested: false };
  const output = new MemoryOutput();
  try {
    const result = await fit(p, output, {
      onEvent: (event) => post({ type: "event", event }),
      stop,
    });
    const best = output.checkpoints.get("best") ?? null;
    trained?.model.dispose();
    trained = best ? loadBest(best) : null;
    post(
      {
        type: "done",
        result,
        epochs: output.epochs,
        classes: p.data.classes,
        best,
        config: p.config,
      },
      best ? [best.buffer as ArrayBuffer] : [],
    );
  } finally {
    stop = null;
    p.dispose();
  }
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case "train":
      return await train(m);
    case "stop":
      if (stop) stop.requested = true;
      return;
    case "first-step": {
      await gpuReady();
      const p = prepare(m);
      try {
        post({ type: "first-step", step: await firstStep(p, m.names), config: p.config });
      } finally {
        p.dispose();
      }
      return;
    }
    case "predict": {
      if (!trained) throw new Error("train a model first: there is nothing to predict with yet");
      const c = trained.meta.model.inChannels as 1 | 3;
      const image = decodeImage(m.file.bytes, m.file.path, {
        channels: c,
        maxPixels: trained.meta.config.maxImagePixels,
      });
      const [p] = await predictImages(trained, [image], [m.file.path], m.topK);
      post({
        type: "prediction",
        file: p.file,
        top: p.top.map((t) => ({ className: t.className, probability: t.probability })),
      });
      return;
    }
  }
}

scope.onmessage = (e) => {
  handle(e.data).catch((err) => {
    const noWebGpu = err instanceof GpuError && /adapter/i.test(err.message);
    post({ type: "error", message: (err as Error).message, noWebGpu });
  });
};
