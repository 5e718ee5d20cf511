// A run's directory: config.json, metrics per iteration and per epoch (CSV), SVG plots (and
// the test set's confusion matrix),
// best and last checkpoints, summary.json. Created only once everything is validated,
// exclusively, and locked while a process trains in it. Every write replaces a file by
// rename from a freshly created temporary (or appends to a file this process created), so
// nothing planted in the directory, a symlink included, is ever written through.

import { atomicWriteText, createTemp, isTempName } from "../nn/io/atomic.ts";
import { saveTrainState, type TrainState } from "./checkpoint.ts";
import { confusionMatrixSvg } from "./confusion_svg.ts";
import type { ClassificationReport } from "./metrics.ts";
import { type RunPlotOptions, runPlots } from "./run_plots.ts";
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
  "valLoss",
  "valAccuracy",
  "testLoss",
  "testAccuracy",
  "lr",
  "seconds",
  "frozen",
  "lrs",
];

const csvNumber = (v: number) => String(Number(v.toPrecision(8)));

/** A CSV line; a list of numbers (the groups' lrs) is one cell, its values space-separated. */
function csvLine(values: unknown[]): string {
  return values.map((v) =>
    typeof v === "number" ? csvNumber(v) : Array.isArray(v) ? v.map(csvNumber).join(" ") : String(v)
  ).join(",") + "\n";
}

/** Rows of a metrics CSV by its header's column names (a column the file lacks, e.g. the
 * validation ones of a run from before they existed, reads as NaN). */
function parseCsv<T>(text: string, columns: (keyof T)[]): T[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = (lines[0] ?? "").split(",");
  return lines.slice(1).map((line) => {
    const cells = line.split(",");
    const row: Record<string, unknown> = {};
    for (const c of columns) {
      const at = header.indexOf(c as string);
      const cell = at >= 0 ? cells[at] : "NaN";
      row[c as string] = cell === "true"
        ? true
        : cell === "false"
        ? false
        : c === "lrs"
        ? (cell ?? "").split(" ").filter((v) => v !== "").map(Number)
        : Number(cell);
    }
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

  /** How the plots are titled and marked; set from the run's config. */
  private plotOptions: RunPlotOptions;

  private constructor(readonly path: string, private readonly lock: RunLock, config: unknown) {
    const scheduler = (config as { scheduler?: unknown } | null)?.scheduler;
    this.plotOptions = {
      run: path.slice(path.lastIndexOf("/") + 1),
      // cosine schedules lower the lr every epoch: only step and plateau cuts are marked
      markLrCuts: scheduler === "step" || scheduler === "plateau",
    };
  }

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
    const dir = new RunDir(path, await RunLock.acquire(path), config);
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
    const lock = await RunLock.acquire(path);
    let config: unknown = null;
    try {
      config = JSON.parse(await readRunText(`${path}/config.json`) || "null");
    } catch { /* an unreadable config only loses the lr-cut markers */ }
    const dir = new RunDir(path, lock, config);
    try {
      await removeStaleTemps(path);
      dir.iterations = parseCsv<IterationRow>(
        await readRunText(`${path}/metrics_iter.csv`),
        ITER_COLUMNS,
      ).filter((r) => r.iteration <= upToIteration);
      dir.epochs = parseCsv<EpochRow>(await readRunText(`${path}/metrics_epoch.csv`), EPOCH_COLUMNS)
        .filter((r) => r.epoch <= upToEpoch)
        // rows written before the lrs column hold group 0's lr only
        .map((r) => (r.lrs.length ? r : { ...r, lrs: [r.lr] }));
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

  /** loss_iter.svg, loss_epoch.svg, accuracy_epoch.svg and lr_epoch.svg from the rows so far. */
  async writePlots(): Promise<void> {
    for (const [file, svg] of runPlots(this.iterations, this.epochs, this.plotOptions)) {
      await atomicWriteText(`${this.path}/${file}`, svg);
    }
  }

  /** confusion_matrix.svg of the latest test evaluation. */
  async writeConfusion(epoch: number, report: ClassificationReport): Promise<void> {
    await atomicWriteText(
      `${this.path}/confusion_matrix.svg`,
      confusionMatrixSvg({
        confusion: report.confusion,
        classes: report.classes,
        title: `Confusion matrix — ${this.plotOptions.run}, test set after epoch ${epoch}`,
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
