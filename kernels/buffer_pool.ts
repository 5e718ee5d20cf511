// A pool of storage buffers keyed by size, so a training step reuses the buffers of the
// previous one instead of allocating. Sizes are rounded up to 256 bytes so near-equal
// shapes share buckets.
//
// The hazard it guards against: queue.writeBuffer is ordered only with *submitted* work,
// so a buffer that a launch in the still-unsubmitted encoder reads must not be handed out
// for an upload. Each buffer remembers the submit epoch it was last bound in; uploads only
// take buffers whose last use has been submitted (submitting the pending work first when
// that frees one, so memory stays flat). Buffers written by launches can be reused at once:
// launches run in the order they were recorded.

import { GpuError } from "./errors.ts";

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const GRANULE = 256;

export interface PoolStats {
  /** Buffers handed out and not yet released. */
  liveBuffers: number;
  liveBytes: number;
  /** Buffers waiting in the pool for reuse. */
  freeBuffers: number;
  freeBytes: number;
  /** Highest live + free bytes the pool has held (what the device had to provide). */
  peakBytes: number;
}

export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  #lastUse = new WeakMap<GPUBuffer, number>();
  #live = new Set<GPUBuffer>();
  #liveBytes = 0;
  #freeBytes = 0;
  #freeCount = 0;
  #peak = 0;

  constructor(
    private device: GPUDevice,
    private epoch: () => number,
    private submitPending: () => void,
  ) {}

  /** A buffer of at least `bytes`; its contents are undefined. */
  acquire(bytes: number, label = "tensor"): GPUBuffer {
    return this.#take(bytes, label, false);
  }

  /** A buffer that no unsubmitted launch uses, safe to fill with queue.writeBuffer. */
  acquireUnused(bytes: number, label = "upload"): GPUBuffer {
    return this.#take(bytes, label, true);
  }

  /** Returns a buffer for reuse. Releasing twice is a bug and throws. */
  release(buffer: GPUBuffer): void {
    if (!this.#live.delete(buffer)) throw new Error("BufferPool.release: buffer is not live");
    this.#liveBytes -= buffer.size;
    this.#freeBytes += buffer.size;
    this.#freeCount++;
    const list = this.#free.get(buffer.size);
    if (list) list.push(buffer);
    else this.#free.set(buffer.size, [buffer]);
  }

  /** Called for every binding of a recorded launch. */
  markUsed(buffer: GPUBuffer): void {
    this.#lastUse.set(buffer, this.epoch());
  }

  /** Destroys the free buffers (e.g. after the batch size changes). */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#freeBytes = 0;
    this.#freeCount = 0;
  }

  stats(): PoolStats {
    return {
      liveBuffers: this.#live.size,
      liveBytes: this.#liveBytes,
      freeBuffers: this.#freeCount,
      freeBytes: this.#freeBytes,
      peakBytes: this.#peak,
    };
  }

  /** Restarts the peak measurement from what is held now. */
  resetPeak(): void {
    this.#peak = this.#liveBytes + this.#freeBytes;
  }

  #take(bytes: number, label: string, mustBeUnused: boolean): GPUBuffer {
    const size = Math.max(GRANULE, Math.ceil(bytes / GRANULE) * GRANULE);
    const list = this.#free.get(size);
    let buffer: GPUBuffer | undefined;
    if (list?.length) {
      if (!mustBeUnused) buffer = list.pop();
      else {
        const now = this.epoch();
        const i = list.findIndex((b) => (this.#lastUse.get(b) ?? 0) < now);
        if (i >= 0) buffer = list.splice(i, 1)[0];
        else {
          this.submitPending(); // now every free buffer's last use is submitted
          buffer = list.pop();
        }
      }
    }
    if (buffer) {
      this.#freeBytes -= size;
      this.#freeCount--;
    } else {
      if (size > this.device.limits.maxBufferSize) {
        throw new GpuError(
          `${label}: needs a ${size}-byte buffer, over this device's maxBufferSize of ` +
            `${this.device.limits.maxBufferSize} bytes; use a smaller batch or image size`,
        );
      }
      buffer = this.device.createBuffer({ label, size, usage: USAGE });
    }
    this.#live.add(buffer);
    this.#liveBytes += size;
    this.#peak = Math.max(this.#peak, this.#liveBytes + this.#freeBytes);
    return buffer;
  }
}
