// A run's directory: config.json, metrics per iteration and per epoch (CSV), SVG plots,
// best and last checkpoints, summary.json. Created only once everything is validated.

import { atomicWriteFile } from "../nn/io/atomic.ts";
import { lineChart } from "./plot.ts";

export interface IterationRow {
  iteration: number;
  epoch: number;
  /** Mean training loss over the steps since the previous row. */
  loss: number;
  accuracy: number;
  lr: number;
  imagesPerSecond: number;
}

export interface EpochRow {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  lr: number;
  seconds: number;
  frozen: boolean;
}

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

export class RunDir {
  iterations: IterationRow[] = [];
  epochs: EpochRow[] = [];

  private constructor(readonly path: string) {}

  get lastCheckpoint(): string {
    return `${this.path}/last.safetensors`;
  }
  get bestCheckpoint(): string {
    return `${this.path}/best.safetensors`;
  }
  get configFile(): string {
    return `${this.path}/config.json`;
  }

  /** Creates a new run directory; refuses to reuse an existing one (use resume for that). */
  static async create(path: string, config: unknown): Promise<RunDir> {
    try {
      await Deno.stat(path);
      throw new Error(`run directory ${path} already exists; pick another --name, or --resume it`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await Deno.mkdir(path, { recursive: true });
    const dir = new RunDir(path);
    await atomicWriteFile(
      dir.configFile,
      new TextEncoder().encode(JSON.stringify(config, null, 2) + "\n"),
    );
    await dir.rewriteCsv();
    return dir;
  }

  /**
   * Opens an existing run for resuming: its metric rows are kept up to the checkpoint's
   * position (rows written after it, e.g. by a run killed later, are dropped).
   */
  static async reopen(path: string, upToIteration: number, upToEpoch: number): Promise<RunDir> {
    const dir = new RunDir(path);
    const read = async (name: string) => {
      try {
        return await Deno.readTextFile(`${path}/${name}`);
      } catch {
        return "";
      }
    };
    dir.iterations = parseCsv<IterationRow>(await read("metrics_iter.csv"), ITER_COLUMNS)
      .filter((r) => r.iteration <= upToIteration);
    dir.epochs = parseCsv<EpochRow>(await read("metrics_epoch.csv"), EPOCH_COLUMNS).filter((r) =>
      r.epoch <= upToEpoch
    );
    await dir.rewriteCsv();
    return dir;
  }

  private async rewriteCsv(): Promise<void> {
    const iter = csvLine(ITER_COLUMNS) +
      this.iterations.map((r) => csvLine(ITER_COLUMNS.map((c) => r[c]))).join("");
    const epoch = csvLine(EPOCH_COLUMNS) +
      this.epochs.map((r) => csvLine(EPOCH_COLUMNS.map((c) => r[c]))).join("");
    await Deno.writeTextFile(`${this.path}/metrics_iter.csv`, iter);
    await Deno.writeTextFile(`${this.path}/metrics_epoch.csv`, epoch);
  }

  async addIteration(row: IterationRow): Promise<void> {
    this.iterations.push(row);
    await Deno.writeTextFile(
      `${this.path}/metrics_iter.csv`,
      csvLine(ITER_COLUMNS.map((c) => row[c])),
      { append: true },
    );
  }

  async addEpoch(row: EpochRow): Promise<void> {
    this.epochs.push(row);
    await Deno.writeTextFile(
      `${this.path}/metrics_epoch.csv`,
      csvLine(EPOCH_COLUMNS.map((c) => row[c])),
      { append: true },
    );
    await this.writePlots();
  }

  /** loss_iter.svg, loss_epoch.svg and accuracy_epoch.svg from the rows so far. */
  async writePlots(): Promise<void> {
    const it = this.iterations, ep = this.epochs;
    await Deno.writeTextFile(
      `${this.path}/loss_iter.svg`,
      lineChart({
        title: "Training loss per iteration",
        xLabel: "iteration",
        yLabel: "loss",
        series: [{ name: "train", points: it.map((r) => [r.iteration, r.loss]) }],
      }),
    );
    await Deno.writeTextFile(
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
    await Deno.writeTextFile(
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

  async writeSummary(summary: unknown): Promise<void> {
    await atomicWriteFile(
      `${this.path}/summary.json`,
      new TextEncoder().encode(JSON.stringify(summary, null, 2) + "\n"),
    );
  }
}
