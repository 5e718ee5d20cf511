// A run's directory: config.json, metrics per iteration and per epoch (CSV), SVG plots,
// best and last checkpoints, summary.json. Created only once everything is validated,
// exclusively, and locked while a process trains in it. Every write replaces a file by
// rename from a freshly created temporary (or appends to a file this process created), so
// nothing planted in the directory, a symlink included, is ever written through.

import { atomicWriteText, createTemp, isTempName } from "../nn/io/atomic.ts";
import { saveTrainState, type TrainState } from "./checkpoint.ts";
import { lineChart } from "./plot.ts";
import type {
  CheckpointSlot,
  EpochRow,
  IterationRow,
  RunOutput,
  RunSummary,
} from "./run_output.ts";
import { RunLock } from "./run_lock.ts";

export type { EpochRow, IterationRow } from "./run_output.ts";

const ITER_COLUMNS: (keyof IterationRow)[] = [
  "iteration",
  "epoch",
  "loss",
  "accuracy",
  "lr",
  "imagesPerSecond",
];
const EPOCH_COLUMNS: (keyof EpochRow)[] = [
  "epoch",
  "trainLoss",
  "trainAccuracy",
  "testLoss",
  "testAccuracy",
  "lr",
  "seconds",
  "frozen",
];

function csvLine(values: unknown[]): string {
  return values.map((v) => typeof v === "number" ? String(Number(v.toPrecision(8))) : String(v))
    .join(",") + "\n";
}

function parseCsv<T>(text: string, columns: (keyof T)[]): T[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  return lines.slice(1).map((line) => {
    const cells = line.split(",");
    const row: Record<string, unknown> = {};
    columns.forEach((c, i) => {
      const cell = cells[i];
      row[c as string] = cell === "true" ? true : cell === "false" ? false : Number(cell);
    });
    return row as T;
  });
}

/** A CSV file created by us (exclusively, under a temporary name, then renamed into
 * place) and kept open for appending, so a symlink planted at its name later is never
 * written through. */
class CsvFile {
  private constructor(private file: Deno.FsFile) {}

  static async create(path: string, text: string): Promise<CsvFile> {
    const t = await createTemp(path);
    try {
      await t.file.write(new TextEncoder().encode(text));
    } catch (e) {
      t.file.close();
      await t.discard();
      throw new Error(`${path}: writing failed (${(e as Error).message})`);
    }
    await t.commit();
    return new CsvFile(t.file);
  }

  async append(text: string): Promise<void> {
    const bytes = new TextEncoder().encode(text);
    for (let p = 0; p < bytes.length;) p += await this.file.write(bytes.subarray(p));
  }

  close(): void {
    try {
      this.file.close();
    } catch { /* already closed */ }
  }
}

/** Reads a metrics CSV of an existing run ("" when absent); refuses a non-regular file. */
async function readRunText(path: string): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    return "";
  }
  if (!info.isFile) {
    throw new Error(
      `${path} is not a regular file (${info.isSymlink ? "a symlink" : "something else"}); ` +
        `a run directory holds only files this tool wrote: remove it and resume again`,
    );
  }
  return await Deno.readTextFile(path);
}

/** Removes temporary files that a killed writer left behind (we hold the lock). */
async function removeStaleTemps(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    if (isTempName(e.name)) await Deno.remove(`${dir}/${e.name}`).catch(() => {});
  }
}

/** The CLI's RunOutput: a directory on disk. */
export class RunDir implements RunOutput {
  /** The iteration rows so far (this session and, on resume, before). */
  iterations: IterationRow[] = [];
  /** The epoch rows so far. */
  epochs: EpochRow[] = [];
  private iterCsv: CsvFile | null = null;
  private epochCsv: CsvFile | null = null;

  private constructor(readonly path: string, private readonly lock: RunLock) {}

  get where(): string {
    return this.path;
  }
  /** The path of last.safetensors. */
  get lastCheckpoint(): string {
    return `${this.path}/last.safetensors`;
  }
  /** The path of best.safetensors. */
  get bestCheckpoint(): string {
    return `${this.path}/best.safetensors`;
  }
  /** The path of config.json. */
  get configFile(): string {
    return `${this.path}/config.json`;
  }

  /**
   * Creates a new run directory (its parent as needed) and locks it. The directory itself
   * is made exclusively: an existing one is refused, with no window between a check and
   * the creation (use reopen to resume a run).
   */
  static async create(path: string, config: unknown): Promise<RunDir> {
    const slash = path.lastIndexOf("/");
    if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
    try {
      await Deno.mkdir(path);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new Error(
          `run directory ${path} already exists; pick another --name, or --resume it`,
        );
      }
      throw new Error(`cannot create the run directory ${path} (${(e as Error).message})`);
    }
    const dir = new RunDir(path, await RunLock.acquire(path));
    try {
      await atomicWriteText(dir.configFile, JSON.stringify(config, null, 2) + "\n");
      await dir.rewriteCsv();
    } catch (e) {
      dir.close();
      throw e;
    }
    return dir;
  }

  /**
   * Opens an existing run for resuming, locked: its metric rows are kept up to the
   * checkpoint's position (rows written after it, e.g. by a run killed later, are dropped).
   */
  static async reopen(path: string, upToIteration: number, upToEpoch: number): Promise<RunDir> {
    const dir = new RunDir(path, await RunLock.acquire(path));
    try {
      await removeStaleTemps(path);
      dir.iterations = parseCsv<IterationRow>(
        await readRunText(`${path}/metrics_iter.csv`),
        ITER_COLUMNS,
      ).filter((r) => r.iteration <= upToIteration);
      dir.epochs = parseCsv<EpochRow>(await readRunText(`${path}/metrics_epoch.csv`), EPOCH_COLUMNS)
        .filter((r) => r.epoch <= upToEpoch);
      await dir.rewriteCsv();
    } catch (e) {
      dir.close();
      throw e;
    }
    return dir;
  }

  /** Closes the metric files and releases the lock. */
  close(): void {
    this.iterCsv?.close();
    this.epochCsv?.close();
    this.iterCsv = this.epochCsv = null;
    this.lock.release();
  }

  /** Closes the metric files and releases the run's lock. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** @ignore */
  private async rewriteCsv(): Promise<void> {
    const iter = csvLine(ITER_COLUMNS) +
      this.iterations.map((r) => csvLine(ITER_COLUMNS.map((c) => r[c]))).join("");
    const epoch = csvLine(EPOCH_COLUMNS) +
      this.epochs.map((r) => csvLine(EPOCH_COLUMNS.map((c) => r[c]))).join("");
    this.iterCsv?.close();
    this.epochCsv?.close();
    this.iterCsv = await CsvFile.create(`${this.path}/metrics_iter.csv`, iter);
    this.epochCsv = await CsvFile.create(`${this.path}/metrics_epoch.csv`, epoch);
  }

  /** @ignore */
  private csv(which: "iter" | "epoch"): CsvFile {
    const f = which === "iter" ? this.iterCsv : this.epochCsv;
    if (!f) throw new Error(`run directory ${this.path} is closed`);
    return f;
  }

  /** Appends the row to metrics_iter.csv. */
  async addIteration(row: IterationRow): Promise<void> {
    this.iterations.push(row);
    await this.csv("iter").append(csvLine(ITER_COLUMNS.map((c) => row[c])));
  }

  async addEpoch(row: EpochRow): Promise<void> {
    this.epochs.push(row);
    await this.csv("epoch").append(csvLine(EPOCH_COLUMNS.map((c) => row[c])));
    await this.writePlots();
  }

  /** loss_iter.svg, loss_epoch.svg and accuracy_epoch.svg from the rows so far. */
  async writePlots(): Promise<void> {
    const it = this.iterations, ep = this.epochs;
    await atomicWriteText(
      `${this.path}/loss_iter.svg`,
      lineChart({
        title: "Training loss per iteration",
        xLabel: "iteration",
        yLabel: "loss",
        series: [{ name: "train", points: it.map((r) => [r.iteration, r.loss]) }],
      }),
    );
    await atomicWriteText(
      `${this.path}/loss_epoch.svg`,
      lineChart({
        title: "Loss per epoch",
        xLabel: "epoch",
        xInteger: true,
        yLabel: "loss",
        series: [
          { name: "train", points: ep.map((r) => [r.epoch, r.trainLoss]) },
          { name: "test", points: ep.map((r) => [r.epoch, r.testLoss]) },
        ],
      }),
    );
    await atomicWriteText(
      `${this.path}/accuracy_epoch.svg`,
      lineChart({
        title: "Accuracy per epoch",
        xLabel: "epoch",
        xInteger: true,
        yLabel: "accuracy",
        yRange: [0, 1],
        series: [
          { name: "train", points: ep.map((r) => [r.epoch, r.trainAccuracy]) },
          { name: "test", points: ep.map((r) => [r.epoch, r.testAccuracy]) },
        ],
      }),
    );
  }

  /** Writes best.safetensors or last.safetensors atomically. */
  async saveCheckpoint(slot: CheckpointSlot, state: TrainState): Promise<void> {
    await saveTrainState(slot === "last" ? this.lastCheckpoint : this.bestCheckpoint, state);
  }

  /** skipped_images.txt: every image file the data left out, and why (one per line). */
  async writeSkipped(files: readonly { file: string; reason: string }[]): Promise<string> {
    const path = `${this.path}/skipped_images.txt`;
    await atomicWriteText(path, files.map((f) => `${f.file}\t${f.reason}\n`).join(""));
    return path;
  }

  /** Writes summary.json. */
  async writeSummary(summary: RunSummary): Promise<void> {
    await atomicWriteText(`${this.path}/summary.json`, JSON.stringify(summary, null, 2) + "\n");
  }
}
