// The GPU: one place that acquires the adapter and device, compiles and caches pipelines,
// records every launch into one shared command encoder, pools buffers, and reads back.
// Only web-standard APIs (navigator.gpu, typed arrays) are used here.

import { GpuError } from "./errors.ts";
import { BufferPool } from "./buffer_pool.ts";

export { GpuError };

/** A storage binding: a whole buffer, or a byte range of one (for chunked launches). */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number };

/** A compiled compute pipeline with the name used in error messages. */
export interface Kernel {
  readonly pipeline: GPUComputePipeline;
  readonly name: string;
}

const NO_ADAPTER_HELP = "No WebGPU adapter found. Install a GPU driver with Vulkan support, or, " +
  "to run on the CPU, Mesa's software driver: `apt-get install mesa-vulkan-drivers` " +
  "(Deno then uses lavapipe; set DENO_WEBGPU_BACKEND=gl to use the GL driver instead).";

// Limits the engine asks for, up to what the adapter offers (the defaults are far lower
// than what most adapters support, e.g. maxBufferSize 256 MiB).
const WANTED_LIMITS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  // alignments: a smaller value is the better limit, and chunked launches need it
  "minStorageBufferOffsetAlignment",
  "minUniformBufferOffsetAlignment",
] as const;

const WANTED_FEATURES: GPUFeatureName[] = ["timestamp-query", "shader-f16"];

// Uniform parameters of all launches in one submit share one buffer, written once at submit.
const UNIFORM_ARENA_BYTES = 1 << 18;

export class Gpu {
  readonly pool: BufferPool;
  /** Largest storage binding in bytes; kernels split work into chunks to stay under it. */
  maxBindingBytes: number;
  readonly maxBufferBytes: number;
  readonly maxWorkgroupsPerDim: number;
  readonly storageAlign: number;
  readonly features: ReadonlySet<string>;
  /** Counters a benchmark or test can read: launches and submits since creation. */
  readonly counters = { launches: 0, submits: 0, readbacks: 0 };

  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #epoch = 1; // incremented at every submit; see BufferPool
  #kernels = new Map<string, Kernel>();
  #uniformAlign: number;
  #uniformCpu = new Uint8Array(UNIFORM_ARENA_BYTES);
  #uniformUsed = 0;
  #uniformGpu: GPUBuffer;
  #errors: Promise<GPUError | null>[] = [];
  #lost: GPUDeviceLostInfo | null = null;

  private constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
  ) {
    const l = device.limits;
    this.maxBindingBytes = l.maxStorageBufferBindingSize;
    this.maxBufferBytes = l.maxBufferSize;
    this.maxWorkgroupsPerDim = l.maxComputeWorkgroupsPerDimension;
    this.storageAlign = l.minStorageBufferOffsetAlignment;
    this.#uniformAlign = Math.max(16, l.minUniformBufferOffsetAlignment);
    this.features = new Set(device.features);
    this.pool = new BufferPool(device, () => this.#epoch, () => this.flush());
    this.#uniformGpu = device.createBuffer({
      label: "uniform arena",
      size: UNIFORM_ARENA_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.lost.then((info) => {
      this.#lost = info;
    });
  }

  /** Acquires an adapter and a device with the limits the engine needs. */
  static async create(options: { powerPreference?: GPUPowerPreference } = {}): Promise<Gpu> {
    if (typeof navigator === "undefined" || !navigator.gpu) throw new GpuError(NO_ADAPTER_HELP);
    const adapter = await navigator.gpu.requestAdapter(options);
    if (!adapter) throw new GpuError(NO_ADAPTER_HELP);
    const requiredLimits: Record<string, number> = {};
    for (const name of WANTED_LIMITS) requiredLimits[name] = adapter.limits[name];
    const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    return new Gpu(adapter, device);
  }

  /** What the adapter is, for `info` and benchmark headers. */
  describe(): { description: string; vendor: string; architecture: string; fallback: boolean } {
    const i = this.adapter.info;
    return {
      description: i.description || i.device || "unknown adapter",
      vendor: i.vendor,
      architecture: i.architecture,
      fallback: Boolean((i as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    };
  }

  /** Compiles `wgsl` once (cached by its text); `name` labels the op in errors. */
  kernel(name: string, wgsl: string, entryPoint = "main"): Kernel {
    const key = entryPoint + "\0" + wgsl;
    let k = this.#kernels.get(key);
    if (!k) {
      this.#checkAlive(name);
      const module = this.device.createShaderModule({ label: name, code: wgsl });
      const pipeline = this.device.createComputePipeline({
        label: name,
        layout: "auto",
        compute: { module, entryPoint },
      });
      k = { pipeline, name };
      this.#kernels.set(key, k);
    }
    return k;
  }

  /**
   * Records one launch. Storage bindings take @binding(0..n-1) of @group(0) in the order
   * given; `params` (if any) is the uniform block at @binding(n). `what` names the op and
   * its shapes for error messages.
   */
  dispatch(
    kernel: Kernel,
    bindings: readonly Binding[],
    params: ArrayBufferView | null,
    groups: readonly [number, number?, number?],
    what: string = kernel.name,
  ): void {
    this.#checkAlive(what);
    const [x, y = 1, z = 1] = groups;
    if (x === 0 || y === 0 || z === 0) return; // nothing to do (an empty tensor)
    for (const g of [x, y, z]) {
      if (g > this.maxWorkgroupsPerDim || !Number.isInteger(g) || g < 0) {
        throw new GpuError(
          `${what}: ${g} workgroups in one dimension (limit ${this.maxWorkgroupsPerDim}); ` +
            `the launcher must split this launch`,
        );
      }
    }
    if (params && this.#uniformUsed + params.byteLength > UNIFORM_ARENA_BYTES) this.flush();
    const entries: GPUBindGroupEntry[] = bindings.map((b, i) => {
      const r = "buffer" in b ? b : { buffer: b, offset: 0, size: b.size };
      if (r.size > this.maxBindingBytes) {
        throw new GpuError(
          `${what}: binding ${i} is ${r.size} bytes, over the ${this.maxBindingBytes}-byte ` +
            `storage binding limit of this adapter; the launcher must split it into chunks`,
        );
      }
      this.pool.markUsed(r.buffer);
      return { binding: i, resource: { buffer: r.buffer, offset: r.offset, size: r.size } };
    });
    if (params) {
      const offset = this.#uniformUsed;
      this.#uniformCpu.set(
        new Uint8Array(params.buffer, params.byteOffset, params.byteLength),
        offset,
      );
      const size = Math.ceil(params.byteLength / 16) * 16;
      this.#uniformUsed = Math.ceil((offset + size) / this.#uniformAlign) * this.#uniformAlign;
      entries.push({
        binding: bindings.length,
        resource: { buffer: this.#uniformGpu, offset, size },
      });
    }
    const pass = this.#computePass();
    const bindGroup = this.device.createBindGroup({
      label: what,
      layout: kernel.pipeline.getBindGroupLayout(0),
      entries,
    });
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.counters.launches++;
  }

  /** Records a buffer-to-buffer copy in submission order with the launches. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.#checkAlive("copy");
    this.#endPass();
    this.pool.markUsed(src);
    this.pool.markUsed(dst);
    this.#commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** A buffer holding `data`, written before any launch recorded after this call reads it. */
  upload(data: ArrayBufferView, label = "upload"): GPUBuffer {
    this.#checkAlive(label);
    const buffer = this.pool.acquireUnused(Math.max(data.byteLength, 4), label);
    if (data.byteLength > 0) {
      this.device.queue.writeBuffer(
        buffer,
        0,
        data.buffer as ArrayBuffer,
        data.byteOffset,
        data.byteLength,
      );
    }
    return buffer;
  }

  /** Submits everything recorded so far (one submit), with the uniforms it needs. */
  flush(): void {
    if (!this.#encoder) return;
    this.#endPass();
    if (this.#uniformUsed > 0) {
      this.device.queue.writeBuffer(this.#uniformGpu, 0, this.#uniformCpu, 0, this.#uniformUsed);
    }
    const commands = this.#encoder.finish();
    this.#encoder = null;
    this.device.queue.submit([commands]);
    this.#errors.push(this.device.popErrorScope(), this.device.popErrorScope());
    this.#uniformUsed = 0;
    this.#epoch++;
    this.counters.submits++;
  }

  /** Waits for all submitted work and throws the first validation or memory error. */
  async sync(): Promise<void> {
    this.flush();
    await this.#untilDone(this.device.queue.onSubmittedWorkDone(), "waiting for the GPU");
    await this.#throwErrors();
  }

  /** Reads byte ranges back to the CPU in one round trip (a round trip costs ~ms). */
  async read(ranges: readonly { buffer: GPUBuffer; offset?: number; size: number }[]) {
    this.#checkAlive("read");
    const total = ranges.reduce((s, r) => s + align4(r.size), 0);
    const staging = this.device.createBuffer({
      label: "readback",
      size: Math.max(total, 4),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    let at = 0;
    for (const r of ranges) {
      if (r.size > 0) this.copy(r.buffer, r.offset ?? 0, staging, at, align4(r.size));
      at += align4(r.size);
    }
    this.flush();
    this.counters.readbacks++;
    try {
      await this.#untilDone(staging.mapAsync(GPUMapMode.READ), "reading back from the GPU");
      await this.#throwErrors();
      const bytes = new Uint8Array(staging.getMappedRange()).slice();
      staging.unmap();
      at = 0;
      return ranges.map((r) => {
        const out = bytes.buffer.slice(at, at + r.size);
        at += align4(r.size);
        return out;
      });
    } finally {
      staging.destroy();
    }
  }

  /**
   * Splits `count` items (e.g. images of a batch) into runs so that each binding of
   * `bytesPerItem[i] * run` bytes fits one storage binding and starts at an aligned offset.
   */
  chunks(
    what: string,
    count: number,
    bytesPerItem: readonly number[],
  ): { start: number; count: number }[] {
    const largest = Math.max(...bytesPerItem, 1);
    let per = Math.max(1, Math.floor(this.maxBindingBytes / largest));
    if (largest > this.maxBindingBytes) {
      throw new GpuError(
        `${what}: one item needs a ${largest}-byte binding, over this adapter's ` +
          `${this.maxBindingBytes}-byte storage binding limit; use a smaller image size`,
      );
    }
    if (per < count) {
      // offsets start*bytes must be multiples of the alignment for every binding
      const step = bytesPerItem.reduce(
        (s, b) => lcm(s, this.storageAlign / gcd(b, this.storageAlign)),
        1,
      );
      per = Math.floor(per / step) * step;
      if (per === 0) {
        throw new GpuError(`${what}: cannot split ${count} items into aligned chunks`);
      }
    }
    const out = [];
    for (let start = 0; start < count; start += per) {
      out.push({ start, count: Math.min(per, count - start) });
    }
    return out;
  }

  #commandEncoder(): GPUCommandEncoder {
    if (!this.#encoder) {
      this.device.pushErrorScope("out-of-memory");
      this.device.pushErrorScope("validation");
      this.#encoder = this.device.createCommandEncoder();
    }
    return this.#encoder;
  }

  #computePass(): GPUComputePassEncoder {
    if (!this.#pass) this.#pass = this.#commandEncoder().beginComputePass();
    return this.#pass;
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }

  async #throwErrors(): Promise<void> {
    const pending = this.#errors;
    this.#errors = [];
    for (const e of await Promise.all(pending)) {
      if (e) throw new GpuError(`GPU ${e.constructor.name}: ${e.message}`);
    }
  }

  /**
   * Waits for `p`, rejecting instead of hanging when the device is lost meanwhile, and turning
   * a failed wait into a GpuError that says what failed (device loss, when that is the cause).
   */
  async #untilDone<T>(p: Promise<T>, what: string): Promise<T> {
    try {
      return await Promise.race([
        p,
        this.device.lost.then((info) => {
          throw lostError(info, what);
        }),
      ]);
    } catch (e) {
      if (e instanceof GpuError) throw e;
      // the device's loss report may arrive just after the failure it caused
      let timer: ReturnType<typeof setTimeout> | undefined;
      const info = await Promise.race([
        this.device.lost,
        new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 100))),
      ]);
      clearTimeout(timer);
      throw info ? lostError(info, what) : new GpuError(`${what} failed: ${(e as Error).message}`);
    }
  }

  #checkAlive(what: string): void {
    if (this.#lost) throw lostError(this.#lost, what);
  }
}

function lostError(info: GPUDeviceLostInfo, what: string): GpuError {
  return new GpuError(
    `GPU device lost (${info.reason}) during ${what}: ${info.message}. ` +
      `Restart the program; if it repeats, reduce the batch size or image size.`,
  );
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

let current: Gpu | null = null;
let starting: Promise<Gpu> | null = null;

/** Creates (once) the engine's GPU; every tensor op then uses it. */
export function initGpu(): Promise<Gpu> {
  if (current) return Promise.resolve(current);
  starting ??= Gpu.create().then((g) => (current = g)).finally(() => (starting = null));
  return starting;
}

/** The engine's GPU; `await initGpu()` must have run first. */
export function gpu(): Gpu {
  if (!current) throw new GpuError("The GPU is not initialised: call `await initGpu()` first.");
  return current;
}

/** Workgroup counts for `n` invocations of `size` each, spread over x and y (x ≤ limit). */
export function grid1d(n: number, size: number): [number, number] {
  const groups = Math.ceil(n / size);
  const g = current?.maxWorkgroupsPerDim ?? 65535;
  if (groups <= g) return [groups, 1];
  const y = Math.ceil(groups / g);
  return [Math.ceil(groups / y), y];
}

/**
 * The WGSL line that turns (global_invocation_id, num_workgroups) into a flat index for a
 * grid made by grid1d: `let i = flatIndex(gid, nwg, SIZE);`.
 */
export const WGSL_FLAT_INDEX = /* wgsl */ `
fn flatIndex(gid: vec3u, nwg: vec3u, size: u32) -> u32 {
  return gid.x + gid.y * nwg.x * size;
}`;
