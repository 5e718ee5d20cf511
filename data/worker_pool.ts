// A fixed set of loader Workers. run() sends one batch request to a chosen Worker and
// resolves with its batch; a Worker error rejects that request, and a Worker that dies
// (uncaught error, failed module load) rejects everything it still owed.

import type { BatchResult } from "./collate.ts";
import type { DatasetSpec } from "./dataset.ts";
import type { WorkerRequest } from "./worker_protocol.ts";
import type { TransformSpec } from "./transforms/transform.ts";

interface Pending {
  worker: number;
  resolve: (r: BatchResult) => void;
  reject: (e: Error) => void;
}

export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly dead: (Error | null)[] = [];
  private nextId = 0;
  private closed = false;

  constructor(count: number, dataset: DatasetSpec, transform: TransformSpec | null) {
    const url = new URL("./loader_worker.ts", import.meta.url).href;
    for (let k = 0; k < count; k++) {
      const w = new Worker(url, { type: "module", name: `data-loader-${k}` });
      this.dead.push(null);
      w.onmessage = (e) => this.onMessage(e.data);
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.fail(k, new Error(`DataLoader worker ${k} crashed: ${e.message}`));
      };
      w.onmessageerror = () =>
        this.fail(k, new Error(`DataLoader worker ${k} sent a message that could not be read`));
      const init: WorkerRequest = { type: "init", dataset, transform };
      w.postMessage(init);
      this.workers.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  run(
    worker: number,
    indices: Int32Array,
    seed: number,
    epoch: number,
    bytes: boolean,
    draws: Int32Array,
  ): Promise<BatchResult> {
    if (this.closed) return Promise.reject(new Error("DataLoader workers were closed"));
    const died = this.dead[worker];
    if (died) return Promise.reject(died);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { worker, resolve, reject });
      const req: WorkerRequest = { type: "batch", id, indices, seed, epoch, bytes, draws };
      this.workers[worker].postMessage(req);
    });
  }

  private onMessage(
    m: {
      type: string;
      id: number;
      result?: BatchResult;
      error?: { name: string; message: string; stack?: string };
    },
  ) {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.type === "batch") p.resolve(m.result!);
    else {
      const err = new Error(`DataLoader worker ${p.worker}: ${m.error!.name}: ${m.error!.message}`);
      if (m.error!.stack) err.stack = `${err.message}\n--- in the worker ---\n${m.error!.stack}`;
      p.reject(err);
    }
  }

  private fail(worker: number, err: Error): void {
    this.dead[worker] = err;
    for (const [id, p] of this.pending) {
      if (p.worker === worker) {
        this.pending.delete(id);
        p.reject(err);
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) w.terminate();
    const err = new Error("DataLoader workers were closed");
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
