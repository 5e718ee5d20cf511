// Tensors: f32 (or i32, for labels) arrays on the GPU with a shape, and the bookkeeping of
// reverse-mode autograd (which op made a tensor, from which inputs, and how to push a
// gradient back to them). The backward pass itself is in autograd.ts.

import { ArgumentError } from "../base/errors.ts";
import { type Shape, sizeOf } from "../base/shape.ts";
import { gpu } from "../kernels/device.ts";
import * as ew from "../kernels/elementwise.ts";
import { runBackward } from "./autograd.ts";
import { Rng } from "../base/rng.ts";

/** Element types on the GPU: f32 for values, i32 for labels and counts. */
export type DType = "f32" | "i32";
export { type Shape, sizeOf } from "../base/shape.ts";

/**
 * What `Tensor.fromArray` uploads: numbers, or PyTorch's int64 labels as a BigInt64Array
 * (stored as i32, so every value must lie in the int32 range).
 */
export type TensorData = ArrayLike<number> | BigInt64Array;

/** How an op pushes the gradient of its output back to its inputs. */
export interface GradFn {
  /** The op's name, for error messages and debugging. */
  readonly op: string;
  /** The op's inputs, in order. */
  readonly inputs: readonly Tensor[];
  /**
   * Gradients for each input (null where `needs[i]` is false, so frozen weights cost
   * nothing). `grad` has the output's shape; it may be returned as an input's gradient.
   */
  backward(grad: Tensor, needs: readonly boolean[]): (Tensor | null)[];
}

/** A GPU buffer shared by a tensor and its views (reshape), freed with the last of them. */
class Storage {
  refs = 1;
  constructor(readonly buffer: GPUBuffer) {}
}

// ---- grad mode -------------------------------------------------------------------------

let gradEnabled = true;

/** Runs `fn` without recording autograd history (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

/** Whether ops record autograd history now (false inside `noGrad`). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

// ---- scopes: release a step's intermediates at once ------------------------------------

const scopes: Scope[] = [];

/**
 * Collects every tensor created while it is open and disposes them when it closes, except
 * those kept. Use `using _ = new Scope();` or `tidy(() => ...)`. Parameters, gradients
 * of leaves and optimizer state are kept automatically.
 */
export class Scope {
  /** The tensors this scope will dispose. */
  readonly tensors = new Set<Tensor>();

  constructor() {
    scopes.push(this);
  }

  /** Closes the scope: disposes its tensors (those not kept). */
  [Symbol.dispose](): void {
    const i = scopes.lastIndexOf(this);
    if (i < 0) return;
    scopes.splice(i, 1);
    for (const t of this.tensors) t.dispose();
    this.tensors.clear();
  }
}

/** Runs `fn` in a scope; tensors it returns (alone, in an array or an object) survive. */
export function tidy<T>(fn: () => T): T {
  using _ = new Scope();
  const out = fn();
  for (const t of tensorsIn(out)) t.keep();
  return out;
}

function tensorsIn(value: unknown): Tensor[] {
  if (value instanceof Tensor) return [value];
  if (Array.isArray(value)) return value.flatMap(tensorsIn);
  if (value && typeof value === "object" && !(value instanceof Promise)) {
    return Object.values(value).flatMap(tensorsIn);
  }
  return [];
}

// ---- the tensor ------------------------------------------------------------------------

/** An f32 or i32 array on the GPU with a shape, and reverse-mode autograd (torch.Tensor's role). */
export class Tensor {
  /** The dimensions, outermost first. */
  readonly shape: Shape;
  /** The number of elements. */
  readonly size: number;
  /** The element type. */
  readonly dtype: DType;
  /** Whether gradients flow to this tensor; set false on a parameter to freeze it. */
  requiresGrad = false;
  /** The accumulated gradient of a leaf after backward(). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when it was recorded for autograd. */
  gradFn: GradFn | null = null;
  /** An optional name (a parameter's name) for messages. */
  name?: string;
  #storage: Storage | null;

  private constructor(storage: Storage, shape: Shape, dtype: DType) {
    this.#storage = storage;
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    this.dtype = dtype;
    scopes.at(-1)?.tensors.add(this);
  }

  /** A tensor with undefined contents (every op writes all of its output). */
  static empty(shape: Shape, dtype: DType = "f32"): Tensor {
    const bytes = sizeOf(shape) * 4;
    return new Tensor(new Storage(gpu().pool.acquire(bytes, `tensor[${shape}]`)), shape, dtype);
  }

  /**
   * Uploads `data` (row-major) as a tensor of `shape` (default: 1-D). The dtype defaults to
   * i32 for an Int32Array or a BigInt64Array (int64 labels, which must fit in int32) and to
   * f32 otherwise.
   */
  static fromArray(
    data: TensorData,
    shape: Shape = [data.length],
    options: { dtype?: DType; requiresGrad?: boolean } = {},
  ): Tensor {
    const isInt = data instanceof Int32Array || data instanceof BigInt64Array;
    const dtype = options.dtype ?? (isInt ? "i32" : "f32");
    if (sizeOf(shape) !== data.length) {
      throw new ArgumentError(
        `Tensor.fromArray: ${data.length} values do not fill shape [${shape}]`,
      );
    }
    const values = data instanceof BigInt64Array ? int64ToNumbers(data) : data;
    const typed = dtype === "i32"
      ? (values instanceof Int32Array ? values : Int32Array.from(values))
      : (values instanceof Float32Array ? values : Float32Array.from(values));
    const t = new Tensor(new Storage(gpu().upload(typed, `tensor[${shape}]`)), shape, dtype);
    t.requiresGrad = options.requiresGrad ?? false;
    return t;
  }

  /** A tensor of `shape` with every element `value`. */
  static full(shape: Shape, value: number): Tensor {
    const t = Tensor.empty(shape);
    ew.fill(gpu(), t.buffer, t.size, value);
    return t;
  }

  /** A tensor of zeros. */
  static zeros(shape: Shape): Tensor {
    return Tensor.full(shape, 0);
  }

  /** A tensor of ones. */
  static ones(shape: Shape): Tensor {
    return Tensor.full(shape, 1);
  }

  /** Uniform draws in [low, high) from a seeded generator. */
  static rand(shape: Shape, options: { seed?: number; low?: number; high?: number } = {}): Tensor {
    const data = new Rng(options.seed ?? 0).fillUniform(
      new Float32Array(sizeOf(shape)),
      options.low ?? 0,
      options.high ?? 1,
    );
    return Tensor.fromArray(data, shape);
  }

  /** Normal draws from a seeded generator. */
  static randn(shape: Shape, options: { seed?: number; mean?: number; std?: number } = {}): Tensor {
    const data = new Rng(options.seed ?? 0).fillNormal(
      new Float32Array(sizeOf(shape)),
      options.mean ?? 0,
      options.std ?? 1,
    );
    return Tensor.fromArray(data, shape);
  }

  /** A trainable leaf: requires grad and is never collected by a scope. */
  static parameter(data: ArrayLike<number>, shape: Shape, name?: string): Tensor {
    const t = Tensor.fromArray(data, shape, { requiresGrad: true }).keep();
    t.name = name;
    return t;
  }

  /** The GPU buffer (may be larger than size*4: buffers come from a pool). */
  get buffer(): GPUBuffer {
    if (!this.#storage) {
      throw new ArgumentError(
        `tensor${this.name ? ` '${this.name}'` : ""} [${this.shape}] used after dispose()`,
      );
    }
    return this.#storage.buffer;
  }

  /** Whether dispose() has run (the tensor may not be used). */
  get disposed(): boolean {
    return this.#storage === null;
  }

  /** Whether another tensor (a view) shares this one's buffer. */
  get sharesStorage(): boolean {
    return (this.#storage?.refs ?? 0) > 1;
  }

  /** Copies the values to the CPU as floats (one GPU round trip). */
  async toArray(): Promise<Float32Array> {
    const [bytes] = await gpu().read([{ buffer: this.buffer, size: this.size * 4 }]);
    return this.dtype === "i32"
      ? Float32Array.from(new Int32Array(bytes))
      : new Float32Array(bytes);
  }

  /** Copies the values of an i32 tensor (labels, counts) to the CPU. */
  async toInt32Array(): Promise<Int32Array> {
    if (this.dtype !== "i32") throw new ArgumentError(`toInt32Array(): ${this} is not i32`);
    const [bytes] = await gpu().read([{ buffer: this.buffer, size: this.size * 4 }]);
    return new Int32Array(bytes);
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new ArgumentError(`item(): tensor has ${this.size} elements, not 1`);
    return (await this.toArray())[0];
  }

  /** A tensor sharing this one's data with another shape of the same size. */
  reshape(shape: Shape): Tensor {
    const resolved = resolveShape(shape, this.size);
    const storage = this.#storage;
    if (!storage) return this.buffer as never; // throws the use-after-dispose error
    storage.refs++;
    const view = new Tensor(storage, resolved, this.dtype);
    const sourceShape = this.shape;
    record(view, "reshape", [this], (g) => [g.reshape(sourceShape)]);
    return view;
  }

  /** The same data, cut from the autograd graph. */
  detach(): Tensor {
    const storage = this.#storage;
    if (!storage) return this.buffer as never;
    storage.refs++;
    return new Tensor(storage, this.shape, this.dtype);
  }

  /** Removes this tensor from every open scope, so it outlives them. */
  keep(): this {
    for (const s of scopes) s.tensors.delete(this);
    return this;
  }

  /** Returns the buffer to the pool (when no view still shares it). Safe to call twice. */
  dispose(): void {
    const s = this.#storage;
    if (!s) return;
    this.#storage = null;
    this.gradFn = null;
    if (--s.refs === 0) gpu().pool.release(s.buffer);
  }

  /** Reverse-mode autograd from this tensor; see autograd.ts. */
  backward(grad?: Tensor): void {
    runBackward(this, grad, Tensor);
  }

  /** E.g. `Tensor(f32[2,3], requiresGrad)`. */
  toString(): string {
    return `Tensor(${this.dtype}[${this.shape}]${this.requiresGrad ? ", requiresGrad" : ""})`;
  }
}

// The GPU has no int64: values are narrowed to int32, refusing any that would change.
function int64ToNumbers(data: BigInt64Array): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < -2147483648n || v > 2147483647n) {
      throw new ArgumentError(
        `Tensor.fromArray: BigInt64Array value ${v} at index ${i} is outside the int32 range ` +
          `[-2147483648, 2147483647] that the GPU stores; labels and indices must fit in int32`,
      );
    }
    out[i] = Number(v);
  }
  return out;
}

function resolveShape(shape: Shape, size: number): number[] {
  const free = shape.indexOf(-1);
  const out = [...shape];
  if (free >= 0) {
    const rest = sizeOf(shape.filter((_, i) => i !== free));
    out[free] = rest === 0 ? 0 : size / rest;
  }
  if (sizeOf(out) !== size || !out.every(Number.isInteger)) {
    throw new ArgumentError(`reshape: cannot view ${size} elements as [${shape}]`);
  }
  return out;
}

/**
 * Attaches an op's backward to its freshly made output when grad mode is on and an input
 * requires grad. Every op in nn/ops calls this; it returns `out`.
 */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backward: GradFn["backward"],
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.gradFn = { op, inputs, backward };
  }
  return out;
}
