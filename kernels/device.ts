// The GPU: one place that acquires the adapter and device, compiles and caches pipelines,
// records every launch into one shared command encoder, pools buffers, and reads back.
// Only web-standard APIs (navigator.gpu, typed arrays) are used here.

import { GpuError } from "./errors.ts";
import { BufferPool } from "./buffer_pool.ts";
import { type AdapterProfile, adapterProfile } from "./profile.ts";

export { GpuError };

/** A storage binding: a whole buffer, or a byte range of one (for chunked launches). */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number };

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

const WANTED_FEATURES: GPUFeatureName[] = ["timestamp-query", "shader-f16", "subgroups"];

// Uniform parameters of all launches in one submit share one buffer, written once at submit.
const UNIFORM_ARENA_BYTES = 1 << 18;

/** The WebGPU device the engine runs on; `await initGpu()` creates it once. */
export class Gpu {
  /** @ignore */
  readonly pool: BufferPool;
  /** Largest storage binding in bytes; kernels split work into chunks to stay under it. */
  maxBindingBytes: number;
  /** Largest buffer the device can allocate, in bytes. */
  readonly maxBufferBytes: number;
  /** Most workgroups a dispatch may have per dimension. */
  readonly maxWorkgroupsPerDim: number;
  /**
   * minStorageBufferOffsetAlignment. Any larger power of two is valid too: tests raise it to
   * 256 (the WebGPU default, common on GPUs) to run chunked launches as such adapters do.
   */
  storageAlign: number;
  /** The optional WebGPU features the device was created with. */
  readonly features: ReadonlySet<string>;
  /**
   * What the adapter is; every variant and tile choice is made from it (tuning.ts).
   * @ignore
   */
  readonly profile: AdapterProfile;
  /** Compiled kernels by family name and variant key (kernel.ts owns the entries). */
  readonly kernelCache = new Map<string, unknown>();
  /** Counters a benchmark or test can read: launches and submits since creation. */
  readonly counters = { launches: 0, submits: 0, readbacks: 0 };

  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #epoch = 1; // incremented at every submit; see BufferPool
  #uniformAlign: number;
  #uniformCpu = new ArrayBuffer(UNIFORM_ARENA_BYTES);
  /** The uniform arena as words: kernel.ts packs parameters straight into it. */
  readonly uniformU32 = new Uint32Array(this.#uniformCpu);
  /** @ignore */
  readonly uniformI32 = new Int32Array(this.#uniformCpu);
  /** @ignore */
  readonly uniformF32 = new Float32Array(this.#uniformCpu);
  #uniformUsed = 0;
  #uniformGpu: GPUBuffer;
  #errors: Promise<GPUError | null>[] = [];
  /** Set while timeGpu() records: the pass writes timestamps at its start and end. */
  #timing: { querySet: GPUQuerySet; passes: number } | null = null;
  #lost: GPUDeviceLostInfo | null = null;

  private constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    subgroupsCompile: boolean,
  ) {
    const l = device.limits;
    this.maxBindingBytes = l.maxStorageBufferBindingSize;
    this.maxBufferBytes = l.maxBufferSize;
    this.maxWorkgroupsPerDim = l.maxComputeWorkgroupsPerDimension;
    this.storageAlign = l.minStorageBufferOffsetAlignment;
    this.#uniformAlign = Math.max(16, l.minUniformBufferOffsetAlignment);
    this.features = new Set(device.features);
    this.profile = adapterProfile(adapter, device, { subgroupsCompile });
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
    const subgroups = device.features.has("subgroups") && await compilesSubgroups(device);
    return new Gpu(adapter, device, subgroups);
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

  /**
   * Compiles one kernel's WGSL with the given bind group layout ("auto" when none); kernel.ts
   * caches the result. `name` labels it in errors.
   */
  compile(name: string, wgsl: string, layout?: GPUBindGroupLayout): GPUComputePipeline {
    this.#checkAlive(name);
    const module = this.device.createShaderModule({ label: name, code: wgsl });
    return this.device.createComputePipeline({
      label: name,
      layout: layout
        ? this.device.createPipelineLayout({ label: name, bindGroupLayouts: [layout] })
        : "auto",
      compute: { module, entryPoint: "main" },
    });
  }

  /** The uniform arena, for bind groups that take its slots as dynamic offsets. */
  get uniformArena(): GPUBuffer {
    return this.#uniformGpu;
  }

  /**
   * Reserves `words` (a multiple of 4) of this submit's uniform arena and returns the index
   * of the first; the caller fills uniformU32/I32/F32 there before the submit.
   */
  uniformSlot(words: number, what: string): number {
    this.#checkAlive(what);
    if (this.#uniformUsed + words * 4 > UNIFORM_ARENA_BYTES) this.flush();
    const at = this.#uniformUsed;
    this.#uniformUsed = Math.ceil((at + words * 4) / this.#uniformAlign) * this.#uniformAlign;
    this.uniformU32.fill(0, at / 4, at / 4 + words);
    return at / 4;
  }

  /** Checks a storage binding against the binding limit and marks its buffer used. */
  useStorage(buffer: GPUBuffer, size: number, index: number, what: string): void {
    if (size > this.maxBindingBytes) {
      throw new GpuError(
        `${what}: binding ${index} is ${size} bytes, over the ${this.maxBindingBytes}-byte ` +
          `storage binding limit of this adapter; the launcher must split it into chunks`,
      );
    }
    this.pool.markUsed(buffer);
  }

  /**
   * Records one dispatch of `pipeline` with `bindGroup` (see kernel.ts); `uniformOffset` is
   * the dynamic offset of its uniform slot, if it takes one.
   */
  record(
    pipeline: GPUComputePipeline,
    bindGroup: GPUBindGroup,
    uniformOffset: number | null,
    groups: readonly [number, number?, number?],
    what: string,
  ): void {
    const [x, y = 1, z = 1] = groups;
    if (x === 0 || y === 0 || z === 0) return; // nothing to do (an empty tensor)
    const limit = this.maxWorkgroupsPerDim;
    if (
      !(x <= limit && y <= limit && z <= limit && x > 0 && y > 0 && z > 0) ||
      !Number.isInteger(x + y + z)
    ) {
      const g = [x, y, z].find((v) => !(v <= limit && v > 0 && Number.isInteger(v)));
      throw new GpuError(
        `${what}: ${g} workgroups in one dimension (limit ${limit}); ` +
          `the launcher must split this launch`,
      );
    }
    const pass = this.#computePass();
    pass.setPipeline(pipeline);
    if (uniformOffset === null) pass.setBindGroup(0, bindGroup);
    else pass.setBindGroup(0, bindGroup, [uniformOffset]);
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
  async read(
    ranges: readonly { buffer: GPUBuffer; offset?: number; size: number }[],
  ): Promise<ArrayBuffer[]> {
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
   * Milliseconds the GPU spends on the launches `record` makes: from timestamp queries when
   * the adapter has them and the launches share one compute pass, else wall-clock time of
   * the submit and wait minus that of an empty one (coarser: good for comparing variants
   * whose runs take well over a millisecond).
   */
  async timeGpu(record: () => void): Promise<number> {
    await this.sync();
    if (this.features.has("timestamp-query")) {
      const querySet = this.device.createQuerySet({ type: "timestamp", count: 2 });
      const resolved = this.device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
      this.#timing = { querySet, passes: 0 };
      try {
        const submits = this.counters.submits;
        record();
        const passes = this.#timing.passes;
        this.#endPass();
        this.#timing = null;
        if (passes === 1 && this.counters.submits === submits && this.#encoder) {
          this.#encoder.resolveQuerySet(querySet, 0, 2, resolved, 0);
          const [bytes] = await this.read([{ buffer: resolved, size: 16 }]);
          const [t0, t1] = new BigUint64Array(bytes);
          if (t1 > t0) return Number(t1 - t0) / 1e6;
        }
      } finally {
        this.#timing = null;
        querySet.destroy();
        resolved.destroy();
      }
    }
    await this.sync();
    const empty = performance.now();
    await this.sync();
    const overhead = performance.now() - empty;
    const t0 = performance.now();
    record();
    await this.sync();
    return Math.max(performance.now() - t0 - overhead, 0);
  }

  /**
   * Splits `count` items (e.g. images of a batch) into runs so that each binding of
   * `bytesPerItem[i] * run` bytes fits one storage binding, with room to start it at the
   * aligned offset below the run's first item (kernel.ts bindings declared with `offset`).
   */
  chunks(
    what: string,
    count: number,
    bytesPerItem: readonly number[],
  ): { start: number; count: number }[] {
    const largest = Math.max(...bytesPerItem, 1);
    const room = this.maxBindingBytes - this.storageAlign;
    if (largest > room) {
      throw new GpuError(
        `${what}: one item needs a ${largest}-byte binding, over this adapter's ` +
          `${this.maxBindingBytes}-byte storage binding limit; use a smaller image size`,
      );
    }
    const per = count <= Math.floor(this.maxBindingBytes / largest)
      ? count
      : Math.max(1, Math.floor(room / largest));
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
    if (!this.#pass) {
      const t = this.#timing;
      this.#pass = this.#commandEncoder().beginComputePass(
        t && t.passes++ === 0
          ? {
            timestampWrites: {
              querySet: t.querySet,
              beginningOfPassWriteIndex: 0,
              endOfPassWriteIndex: 1,
            },
          }
          : undefined,
      );
    }
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

/**
 * Whether the device's shader compiler takes `enable subgroups;`: a device may grant the
 * feature while its WGSL front end lacks the extension (naga, which Deno uses, has had
 * subgroup operations without the `enable` line that Chromium's Tint requires).
 */
export async function compilesSubgroups(device: GPUDevice): Promise<boolean> {
  device.pushErrorScope("validation");
  const module = device.createShaderModule({
    label: "subgroups probe",
    code: "enable subgroups;\n@compute @workgroup_size(1)\n" +
      "fn main(@builtin(subgroup_size) size: u32) { _ = subgroupAdd(size); }",
  });
  const info = await module.getCompilationInfo?.();
  const error = await device.popErrorScope();
  return !error && !(info?.messages ?? []).some((m) => m.type === "error");
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
