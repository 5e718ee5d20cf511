// The Worker side of DataLoader prefetch: rebuilds the dataset and transform from their
// specs, then answers batch requests. Every failure is posted back, never swallowed.

/// <reference lib="deno.worker" />

import { makeBatch } from "./collate.ts";
import type { Dataset } from "./dataset.ts";
import { datasetFromSpec } from "./dataset_spec.ts";
import { transformFromSpec } from "./transforms/compose.ts";
import type { Transform } from "./transforms/transform.ts";
import type { WorkerRequest } from "./worker_protocol.ts";

let dataset: Dataset | null = null;
let transform: Transform | null = null;
let initError: unknown = null;

function describe(e: unknown): { name: string; message: string; stack?: string } {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: "Error", message: String(e) };
}

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const m = event.data;
  if (m.type === "init") {
    try {
      dataset = datasetFromSpec(m.dataset);
      transform = m.transform ? transformFromSpec(m.transform) : null;
    } catch (e) {
      initError = e;
    }
    return;
  }
  try {
    if (initError) throw initError;
    const r = makeBatch(dataset!, transform, m.indices, m.seed, m.epoch, m.bytes, m.draws);
    self.postMessage({ type: "batch", id: m.id, result: r }, [
      (r.pixels ?? r.images)!.buffer as ArrayBuffer,
      r.labels.buffer as ArrayBuffer,
    ]);
  } catch (e) {
    self.postMessage({ type: "error", id: m.id, error: describe(e) });
  }
};
