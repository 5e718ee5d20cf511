// The training page: picks the data and weights, sets up a run from a preset and the
// form, and drives the Worker (web/worker.ts) that trains; draws its events as a live
// loss and accuracy chart and the CLI's per-epoch lines, offers the best checkpoint as a
// download and predicts dropped images with it. `window.__test` is the browser test's hook.

import { DEFAULT_CONFIG, STRATEGIES, type TrainConfig } from "../train/config.ts";
import type { FitEvent } from "../train/fit_events.ts";
import { lineChart, type Series } from "../train/plot.ts";
import { recipeConfig, RECIPES } from "../train/recipes.ts";
import { textReport } from "../train/text_report.ts";
import type { PickedFile } from "./open_data.ts";
import type { Done, FromWorker, RunRequest } from "./protocol.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const status = $("status"), log = $("log"), problems = $("problems");
const trainButton = $<HTMLButtonElement>("train"), stopButton = $<HTMLButtonElement>("stop");
const download = $<HTMLAnchorElement>("download");

// ---- WebGPU: say clearly when there is none, and how to get it

const ENABLE_HELP = "Use a browser with WebGPU: Chrome or Edge 113+ (on Linux, enable " +
  "chrome://flags/#enable-unsafe-webgpu and #enable-vulkan, or start it with " +
  "--enable-unsafe-webgpu --enable-features=Vulkan), Safari 26+, or Firefox 141+ on Windows " +
  "(elsewhere set dom.webgpu.enabled in about:config). The page must come from https:// or " +
  "http://127.0.0.1 / localhost (a secure context).";

async function checkGpu(): Promise<boolean> {
  const gpu = $("gpu");
  const fail = (what: string) => {
    gpu.textContent = `${what} ${ENABLE_HELP}`;
    gpu.className = "error";
    return false;
  };
  if (!globalThis.isSecureContext) return fail("This page is not in a secure context.");
  if (!navigator.gpu) return fail("This browser has no WebGPU (navigator.gpu is missing).");
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return fail("WebGPU is there, but the browser offers no adapter (GPU).");
  const info = adapter.info;
  gpu.textContent = `WebGPU adapter: ${info.vendor || "?"} ${info.architecture || ""} ${
    info.description || ""
  }`.replace(/\s+/g, " ");
  return true;
}

// ---- presets and the form

const fields = {
  strategy: $<HTMLSelectElement>("strategy"),
  epochs: input("epochs"),
  lr: input("lr"),
  batchSize: input("batch"),
  imageSize: input("size"),
  freezeEpochs: input("freeze"),
  keepStages: input("stages"),
  logEvery: input("log-every"),
};
const recipeSelect = $<HTMLSelectElement>("recipe");

function option(select: HTMLSelectElement, value: string, text = value) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  select.append(o);
}
option(recipeSelect, "none", "defaults");
for (const name of Object.keys(RECIPES)) option(recipeSelect, name);
for (const s of STRATEGIES) option(fields.strategy, s);

function showPreset(): void {
  const c = recipeConfig(recipeSelect.value);
  fields.strategy.value = c.strategy;
  for (
    const k of ["epochs", "lr", "batchSize", "imageSize", "freezeEpochs", "keepStages"] as const
  ) {
    fields[k].value = String(c[k]);
  }
  fields.logEvery.value = String(c.logEvery);
  $("preset-note").textContent = recipeSelect.value === "none"
    ? "The CLI's defaults."
    : RECIPES[recipeSelect.value].description;
}
recipeSelect.onchange = showPreset;
showPreset();

/** The form's values over the preset; a changed image size drops the preset's eval resize. */
function overrides(): Partial<TrainConfig> {
  const preset = recipeConfig(recipeSelect.value);
  const num = (el: HTMLInputElement) => Number(el.value);
  const o: Partial<TrainConfig> = {
    strategy: fields.strategy.value as TrainConfig["strategy"],
    epochs: num(fields.epochs),
    lr: num(fields.lr),
    batchSize: num(fields.batchSize),
    imageSize: num(fields.imageSize),
    freezeEpochs: num(fields.freezeEpochs),
    keepStages: num(fields.keepStages),
    logEvery: num(fields.logEvery),
  };
  if (o.imageSize !== preset.imageSize) o.evalResize = DEFAULT_CONFIG.evalResize;
  return o;
}

// ---- picked files

let picked: File[] = [];
let weightsFile: File | null = null;

function size(bytes: number): string {
  return bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function showPicked(): void {
  const n = picked.length;
  $("picked").textContent = n === 0
    ? "No data chosen."
    : n === 1 && picked[0].name.toLowerCase().endsWith(".zip")
    ? `Zip: ${picked[0].name} (${size(picked[0].size)})`
    : `Folder: ${picked[0].webkitRelativePath.split("/")[0]} (${n} files)`;
  trainButton.disabled = n === 0 || running || !gpuOk;
}
input("folder").onchange = () => {
  picked = [...(input("folder").files ?? [])];
  input("zip").value = "";
  showPicked();
};
input("zip").onchange = () => {
  picked = [...(input("zip").files ?? [])];
  input("folder").value = "";
  showPicked();
};
input("weights").onchange = () => {
  weightsFile = input("weights").files?.[0] ?? null;
};

async function read(f: File): Promise<PickedFile> {
  return { path: f.webkitRelativePath || f.name, bytes: new Uint8Array(await f.arrayBuffer()) };
}

async function request(): Promise<{ r: RunRequest; transfer: ArrayBuffer[] }> {
  const files = await Promise.all(picked.map(read));
  const weights = weightsFile ? await read(weightsFile) : null;
  const transfer = [...files, ...(weights ? [weights] : [])].map((f) => f.bytes.buffer);
  return {
    r: { files, weights, recipe: recipeSelect.value, overrides: overrides() },
    transfer: transfer as ArrayBuffer[],
  };
}

// ---- the chart

const points = {
  trainLoss: [] as [number, number][],
  valLoss: [] as [number, number][],
  testLoss: [] as [number, number][],
  trainAcc: [] as [number, number][],
  valAcc: [] as [number, number][],
  testAcc: [] as [number, number][],
};

function drawCharts(): void {
  const chart = (title: string, yLabel: string, series: Series[], yRange?: [number, number]) =>
    lineChart({ title, xLabel: "epoch", yLabel, series, width: 520, height: 300, yRange });
  // the validation curve (the set that picks the best model) once there is one, as in the
  // CLI's loss_epoch.svg: a run with --val-split 0 and no val/ folder has none
  const withVal = (train: Series, val: Series, test: Series) =>
    val.points.length > 0 ? [train, val, test] : [train, test];
  $("loss-chart").innerHTML = chart(
    "Loss",
    "cross-entropy",
    withVal(
      { name: "train", points: points.trainLoss },
      { name: "validation", points: points.valLoss },
      { name: "test", points: points.testLoss },
    ),
  );
  $("acc-chart").innerHTML = chart(
    "Accuracy",
    "accuracy",
    withVal(
      { name: "train", points: points.trainAcc },
      { name: "validation", points: points.valAcc },
      { name: "test", points: points.testAcc },
    ),
    [0, 1],
  );
}

// ---- the Worker

const worker = new Worker("/worker.js", { type: "module" });
let running = false;
let report = textReport({ log: logLine });
let finished: ((d: Done) => void) | null = null;
let failed: ((e: Error) => void) | null = null;
let firstStepReply: ((m: FromWorker & { type: "first-step" }) => void) | null = null;
let predictionWaiter: ((m: FromWorker & { type: "prediction" }) => void) | null = null;
let gpuOk = false;

function logLine(line: string): void {
  log.textContent += `${line}\n`;
  log.scrollTop = log.scrollHeight;
}

function problem(text: string): void {
  const li = document.createElement("li");
  li.textContent = text;
  problems.append(li);
}

function onEvent(e: FitEvent): void {
  report(e);
  if (e.type === "epoch-start") status.textContent = `Epoch ${e.epoch}/${e.epochs}…`;
  if (e.type === "progress") {
    const x = e.epoch - 1 + e.done / e.total;
    points.trainLoss.push([x, e.loss]);
    points.trainAcc.push([x, e.accuracy]);
    status.textContent = `Epoch ${e.epoch}: batch ${e.done}/${e.total}, loss ${
      e.loss.toFixed(4)
    }, accuracy ${(100 * e.accuracy).toFixed(1)}%, ${e.imagesPerSecond.toFixed(1)} images/s`;
    drawCharts();
  }
  if (e.type === "epoch-end") {
    if (Number.isFinite(e.row.valLoss)) {
      points.valLoss.push([e.row.epoch, e.row.valLoss]);
      points.valAcc.push([e.row.epoch, e.row.valAccuracy]);
    }
    points.testLoss.push([e.row.epoch, e.row.testLoss]);
    points.testAcc.push([e.row.epoch, e.row.testAccuracy]);
    drawCharts();
  }
}

/** The best epoch as the CLI's last line gives it: by which set, with its test accuracy. */
function bestLine(b: NonNullable<Done["result"]["best"]>): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return b.set === "validation"
    ? `best: epoch ${b.epoch} by validation accuracy ${pct(b.accuracy)}` +
      (b.test ? ` (its test accuracy ${pct(b.test.accuracy)})` : "")
    : `best: epoch ${b.epoch} by test accuracy ${pct(b.accuracy)}`;
}

function setRunning(on: boolean): void {
  running = on;
  trainButton.disabled = on || picked.length === 0 || !gpuOk;
  stopButton.disabled = !on;
}

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case "adapter":
      return logLine(`adapter: ${m.description}`);
    case "notes":
      return m.lines.forEach(logLine);
    case "skipped":
      for (const s of m.files) {
        problem(`Skipped ${s.file}: ${s.reason}`);
      }
      return;
    case "warning":
      return problem(m.message);
    case "event":
      return onEvent(m.event);
    case "done": {
      setRunning(false);
      const r = m.result;
      status.textContent =
        `${
          r.interrupted ? "Stopped" : "Done"
        } after ${r.epochsDone} epoch(s), ${r.iterations} steps, ${r.seconds.toFixed(1)} s` +
        (r.best ? `; ${bestLine(r.best)}` : "; no epoch finished, so no weights to download");
      if (m.best) {
        URL.revokeObjectURL(download.href);
        download.href = URL.createObjectURL(new Blob([m.best as BlobPart]));
        download.classList.remove("disabled");
      }
      finished?.(m);
      finished = null;
      return;
    }
    case "first-step":
      return firstStepReply?.(m);
    case "prediction":
      showPrediction(m);
      predictionWaiter?.(m);
      predictionWaiter = null;
      return;
    case "error": {
      setRunning(false);
      status.textContent = m.noWebGpu ? `${m.message} ${ENABLE_HELP}` : m.message;
      status.className = "error";
      failed?.(new Error(m.message));
      return;
    }
  }
};

trainButton.onclick = async () => {
  setRunning(true);
  status.className = "";
  status.textContent = "Reading the files…";
  problems.textContent = "";
  log.textContent = "";
  for (const p of Object.values(points)) p.length = 0;
  report = textReport({ log: logLine });
  download.classList.add("disabled");
  const { r, transfer } = await request();
  status.textContent = "Opening the data and building the model…";
  worker.postMessage({ type: "train", ...r }, transfer);
};
stopButton.onclick = () => {
  worker.postMessage({ type: "stop" });
  status.textContent = "Stopping after this batch…";
};

// ---- predict

async function predict(file: File): Promise<void> {
  const f = await read(file);
  worker.postMessage({ type: "predict", file: f, topK: 5 }, [f.bytes.buffer as ArrayBuffer]);
}
function showPrediction(m: FromWorker & { type: "prediction" }): void {
  const list = $("prediction");
  list.textContent = "";
  for (const t of m.top) {
    const li = document.createElement("li");
    li.textContent = `${t.className}: ${(100 * t.probability).toFixed(1)}%`;
    list.append(li);
  }
}
const drop = $("drop");
drop.ondragover = (e) => {
  e.preventDefault();
  drop.classList.add("over");
};
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const f = e.dataTransfer?.files[0];
  if (f) predict(f);
};
input("predict-file").onchange = () => {
  const f = input("predict-file").files?.[0];
  if (f) predict(f);
};

// ---- the browser test's hook (tests/browser/training_page_test.ts)

(globalThis as Record<string, unknown>).__test = {
  /** The first step of the run the form describes, read back. */
  async firstStep(names: string[]) {
    const { r, transfer } = await request();
    const reply = new Promise<FromWorker & { type: "first-step" }>((res, rej) => {
      firstStepReply = res;
      failed = rej;
    });
    worker.postMessage({ type: "first-step", names, ...r }, transfer);
    const m = await reply;
    return { step: m.step, config: m.config };
  },
  /** Resolves with the next run's result (rejects on its error). */
  nextRun(): Promise<Done> {
    return new Promise((res, rej) => {
      finished = res;
      failed = rej;
    });
  },
  /** Resolves with the next prediction. */
  nextPrediction(): Promise<{ file: string; top: { className: string; probability: number }[] }> {
    return new Promise((res) => (predictionWaiter = res));
  },
};

checkGpu().then((ok) => {
  gpuOk = ok;
  showPicked();
});
