// Upper bounds on the settings that size memory: --image-size and --batch-size from the
// device's largest buffer (the stem's output, 64 channels at half the input size, is the
// largest activation of ResNet18 and one tensor is one buffer) and from the machine's
// memory (the loader keeps batches of float32 pixels in flight), --workers from the
// machine's cores. Checked before any data is read or anything is written, so a setting
// that cannot work fails at once with the bound, not later in a worker.

import { ConfigError, type TrainConfig } from "./config.ts";

export interface Machine {
  /** The GPU's largest buffer (maxBufferSize), in bytes. */
  maxBufferBytes: number;
  /** Physical memory, in bytes. */
  memoryBytes: number;
  cores: number;
}

/** This machine, with the GPU's limit. */
export function thisMachine(maxBufferBytes: number): Machine {
  let memoryBytes = 8 * 2 ** 30;
  try {
    memoryBytes = Deno.systemMemoryInfo().total;
  } catch { /* not permitted: assume 8 GiB */ }
  return { maxBufferBytes, memoryBytes, cores: navigator.hardwareConcurrency || 1 };
}

/** Batches a loader keeps in flight per worker (DataLoader's prefetch default). */
const IN_FLIGHT_PER_WORKER = 2;
/** The share of the machine's memory that the batches in flight may take. */
const HOST_SHARE = 1 / 4;

function gib(bytes: number): string {
  return bytes >= 2 ** 30
    ? `${(bytes / 2 ** 30).toFixed(1)} GiB`
    : `${Math.ceil(bytes / 2 ** 20)} MiB`;
}

/** The stem's output bytes for a batch: [N, 64, ceil(S/2), ceil(S/2)] float32. */
function stemBytes(batch: number, size: number): number {
  const half = Math.ceil(size / 2);
  return batch * 64 * half * half * 4;
}

/** Throws ConfigError naming the flag when image size, batch size or workers exceed the bounds. */
export function checkResourceLimits(
  c: Pick<TrainConfig, "imageSize" | "evalResize" | "batchSize" | "workers">,
  m: Machine,
  channels: number,
): void {
  const size = Math.max(c.imageSize, c.evalResize);
  const sizeKey = c.evalResize > c.imageSize ? "evalResize" : "imageSize";
  if (stemBytes(1, size) > m.maxBufferBytes) {
    const max = 2 * Math.floor(Math.sqrt(m.maxBufferBytes / (64 * 4)));
    throw new ConfigError(
      sizeKey,
      `--${sizeKey === "imageSize" ? "image-size" : "eval-resize"} ${size}: one image's first ` +
        `activation (${gib(stemBytes(1, size))}) exceeds the GPU's largest buffer ` +
        `(${gib(m.maxBufferBytes)}); use at most ${max}`,
    );
  }
  const maxBatch = Math.floor(m.maxBufferBytes / stemBytes(1, size));
  if (c.batchSize > maxBatch) {
    throw new ConfigError(
      "batchSize",
      `--batch-size ${c.batchSize} at image size ${size}: the first activation ` +
        `(${gib(stemBytes(c.batchSize, size))}) exceeds the GPU's largest buffer ` +
        `(${gib(m.maxBufferBytes)}); use at most ${maxBatch}`,
    );
  }
  if (c.workers > m.cores) {
    throw new ConfigError(
      "workers",
      `--workers ${c.workers}: this machine has ${m.cores} CPU cores; use at most ${m.cores} ` +
        `(each worker decodes in parallel and keeps its own batches in memory)`,
    );
  }
  const workers = Math.max(1, c.workers);
  const hostBatch = c.batchSize * channels * size * size * 4;
  const inFlight = hostBatch * workers * IN_FLIGHT_PER_WORKER;
  if (inFlight > m.memoryBytes * HOST_SHARE) {
    throw new ConfigError(
      "batchSize",
      `--batch-size ${c.batchSize} at image size ${size} with ${workers} worker(s): the ` +
        `batches in flight take ${gib(inFlight)}, more than a quarter of this machine's ` +
        `${gib(m.memoryBytes)}; lower --batch-size, --image-size or --workers`,
    );
  }
}
