// One way to define a kernel: a family declares its name, its storage bindings and its
// uniform parameters once, and a function from a variant (tile sizes, transposes, store
// modes: whatever changes the WGSL text) to the body of the shader. The binding
// declarations, the parameter struct and the packing of the parameters are generated from
// those lists, so no launcher packs words by position. Pipelines are cached per device by
// the family's name and the variant's key; the WGSL is built only when that key is new.
//
// Bindings declared with `offset: true` may be bound at any 4-byte offset (a chunk of a
// larger buffer): the launch binds from the aligned offset at or below it and passes the
// distance in elements as the parameter `<name>Off`, which the body adds to its indices.
// That is what lets chunked launches work with any minStorageBufferOffsetAlignment.

import type { Binding, Gpu } from "./device.ts";
import { GpuError } from "./errors.ts";

export type ParamType = "u32" | "i32" | "f32";

/** A storage binding of the shader, @binding(i) of @group(0) in declaration order. */
export interface BindingDecl {
  name: string;
  /** The WGSL element type: f32, vec4f, vec2f, u32, i32, ... */
  type: string;
  /** Default "read". */
  access?: "read" | "read_write";
  /** May start at an unaligned offset: adds the element-offset parameter `<name>Off`. */
  offset?: boolean;
}

/** A binding that launches may start at any offset (a chunk): see `offset` above. */
export function chunked(name: string, type = "f32", write = false): BindingDecl {
  return { name, type, offset: true, ...(write ? { access: "read_write" as const } : {}) };
}

export interface KernelSpec<V, P extends string> {
  /** Names the family's pipelines and, with the variant's key, caches them. */
  name: string;
  /** Equal keys must mean equal WGSL (the source is not built again for a known key). */
  key: (variant: V) => string;
  bindings: readonly BindingDecl[] | ((variant: V) => readonly BindingDecl[]);
  /** The uniform parameters, in struct order. */
  params: Readonly<Record<P, ParamType>>;
  /** The shader after the generated declarations; refers to parameters as `p.<name>`. */
  body: (variant: V) => string;
  /** WGSL extensions the variant needs (e.g. "subgroups"), written as `enable` lines. */
  enables?: (variant: V) => readonly string[];
}

/** The parameters a launch passes: every declared one (offset parameters are filled in). */
export type Params<P extends string> = Readonly<Record<P, number>>;

const ELEMENT_BYTES: Record<string, number> = {
  f32: 4,
  u32: 4,
  i32: 4,
  vec2f: 8,
  vec4f: 16,
  vec2u: 8,
  vec4u: 16,
  f16: 2,
  "vec4<f16>": 8,
};

interface ParamSlot {
  name: string;
  type: ParamType;
}

// Every buffer gets a number once, for the bind-group cache keys (never reused, so a key
// naming a destroyed buffer is simply never asked for again).
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;

function bufferId(b: GPUBuffer): number {
  let id = bufferIds.get(b);
  if (id === undefined) bufferIds.set(b, id = nextBufferId++);
  return id;
}

/** Bind groups kept per kernel before the cache starts over (a training step uses far fewer). */
const BIND_GROUPS_PER_KERNEL = 512;

/**
 * A compiled variant: launch it with bindings in declaration order and named parameters.
 * Its bind group layout is explicit, with the uniform block at a dynamic offset, so the bind
 * group of a set of storage ranges is made once and reused by every later launch on the
 * same ranges (a training step launches the same kernels on the same pooled buffers every
 * step): creating bind groups is most of WebGPU's own cost per launch.
 */
export class CompiledKernel<P extends string> {
  readonly #offsetSlots: (number | -1)[];
  readonly #elementBytes: number[];
  readonly #bindGroups = new Map<string, GPUBindGroup>();

  constructor(
    readonly gpu: Gpu,
    readonly name: string,
    readonly pipeline: GPUComputePipeline,
    readonly layout: GPUBindGroupLayout,
    readonly bindings: readonly BindingDecl[],
    readonly slots: readonly ParamSlot[],
    /** Parameter words, rounded up to the 16 bytes a uniform block takes. */
    readonly words: number,
  ) {
    this.#offsetSlots = bindings.map((b) =>
      b.offset ? slots.findIndex((s) => s.name === b.name + "Off") : -1
    );
    this.#elementBytes = bindings.map((b) => ELEMENT_BYTES[b.type] ?? 4);
  }

  /**
   * Records one launch of `groups` workgroups. `what` names the op and its shapes in
   * errors (default the family's name).
   */
  dispatch(
    bindings: readonly Binding[],
    params: Params<P>,
    groups: readonly [number, number?, number?],
    what: string = this.name,
  ): void {
    const g = this.gpu;
    const n = bindings.length;
    if (n !== this.bindings.length) {
      throw new GpuError(
        `${what}: ${n} bindings given, the kernel declares ${this.bindings.length}`,
      );
    }
    const at = g.uniformSlot(this.words, what);
    const u = g.uniformU32;
    const ranges: GPUBufferBinding[] = new Array(n);
    let key = "";
    for (let i = 0; i < n; i++) {
      const b = bindings[i];
      let buffer: GPUBuffer, offset: number, size: number;
      if ("buffer" in b) ({ buffer, offset, size } = b);
      else (buffer = b, offset = 0, size = b.size);
      const slot = this.#offsetSlots[i];
      if (slot >= 0) {
        // bind from the aligned offset below and pass the rest in elements
        const aligned = offset - (offset % g.storageAlign);
        const rest = (offset - aligned) / this.#elementBytes[i];
        if (!Number.isInteger(rest)) {
          throw new GpuError(
            `${what}: binding ${this.bindings[i].name} starts at byte ${offset}, not a ` +
              `multiple of its ${this.#elementBytes[i]}-byte elements`,
          );
        }
        u[at + slot] = rest;
        size += offset - aligned;
        offset = aligned;
      } else if (offset % g.storageAlign) {
        throw new GpuError(
          `${what}: binding ${this.bindings[i].name} starts at byte ${offset}, not a multiple ` +
            `of the ${g.storageAlign}-byte offset alignment (declare it with offset: true)`,
        );
      }
      g.useStorage(buffer, size, i, what);
      ranges[i] = { buffer, offset, size };
      key += `${bufferId(buffer)}:${offset}:${size} `;
    }
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      const v = (params as Record<string, number>)[s.name];
      if (v === undefined) {
        if (s.name.endsWith("Off") && this.#offsetSlots.includes(i)) continue;
        throw new GpuError(`${what}: parameter ${s.name} is missing`);
      }
      if (s.type === "f32") g.uniformF32[at + i] = v;
      else if (s.type === "i32") g.uniformI32[at + i] = v;
      else u[at + i] = v;
    }
    let group = this.#bindGroups.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = ranges.map((resource, i) => ({ binding: i, resource }));
      entries.push({
        binding: n,
        resource: { buffer: g.uniformArena, offset: 0, size: this.words * 4 },
      });
      if (this.#bindGroups.size >= BIND_GROUPS_PER_KERNEL) this.#bindGroups.clear();
      group = g.device.createBindGroup({ label: this.name, layout: this.layout, entries });
      this.#bindGroups.set(key, group);
    }
    g.record(this.pipeline, group, at * 4, groups, what);
  }
}

/** The bind group layout of a kernel's declarations: storage bindings, then the uniforms. */
function bindGroupLayout(
  g: Gpu,
  name: string,
  bindings: readonly BindingDecl[],
): GPUBindGroupLayout {
  const entries: GPUBindGroupLayoutEntry[] = bindings.map((b, i) => ({
    binding: i,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: b.access === "read_write" ? "storage" : "read-only-storage" },
  }));
  entries.push({
    binding: bindings.length,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: "uniform", hasDynamicOffset: true },
  });
  return g.device.createBindGroupLayout({ label: name, entries });
}

/** A kernel family: `get(g, variant)` gives the compiled variant, built on first use. */
export class KernelFamily<V, P extends string> {
  readonly #slots: ParamSlot[] = [];

  constructor(readonly spec: KernelSpec<V, P>) {
    for (const [name, type] of Object.entries(spec.params) as [string, ParamType][]) {
      this.#slots.push({ name, type });
    }
  }

  /** The compiled variant for `g`; the WGSL is generated only on a cache miss. */
  get(g: Gpu, variant: V): CompiledKernel<P> {
    const key = this.spec.name + "\0" + this.spec.key(variant);
    const hit = g.kernelCache.get(key);
    if (hit) return hit as CompiledKernel<P>;
    const bindings = typeof this.spec.bindings === "function"
      ? this.spec.bindings(variant)
      : this.spec.bindings;
    const slots = [...this.#slots];
    for (const b of bindings) {
      if (b.offset) slots.push({ name: b.name + "Off", type: "u32" });
    }
    const words = paramWords(slots.length);
    const code = this.source(variant, bindings, slots, words);
    const layout = bindGroupLayout(g, this.spec.name, bindings);
    const pipeline = g.compile(this.spec.name, code, layout);
    const k = new CompiledKernel<P>(
      g,
      this.spec.name,
      pipeline,
      layout,
      bindings,
      slots,
      words,
    );
    g.kernelCache.set(key, k);
    return k;
  }

  private source(
    v: V,
    bindings: readonly BindingDecl[],
    slots: readonly ParamSlot[],
    words: number,
  ): string {
    const enables = (this.spec.enables?.(v) ?? []).map((e) => `enable ${e};`);
    const decls = bindings.map((b, i) =>
      `@group(0) @binding(${i}) var<storage, ${b.access ?? "read"}> ${b.name}: array<${b.type}>;`
    );
    const fields = slots.map((s) => `${s.name}: ${s.type},`);
    // pad the struct to the 16-byte multiple the launch binds
    for (let i = slots.length; i < words; i++) {
      fields.push(`pad${i}_: u32,`);
    }
    return [
      ...enables,
      `// ${this.spec.name} ${this.spec.key(v)}`,
      ...decls,
      `struct Params { ${fields.join(" ")} }`,
      `@group(0) @binding(${bindings.length}) var<uniform> p: Params;`,
      this.spec.body(v),
    ].join("\n");
  }
}

/** Uniform words for `count` parameters: a multiple of 4 (16 bytes), at least one block. */
function paramWords(count: number): number {
  return Math.max(4, Math.ceil(count / 4) * 4);
}

/** Declares a kernel family (see the file comment). */
export function defineKernel<V, P extends string>(spec: KernelSpec<V, P>): KernelFamily<V, P> {
  return new KernelFamily(spec);
}
