// Elementwise kernels: one WGSL template for "out[i] = f(a[i], b[i], scalars)", and the
// launchers built on it (fill, copy, add, accumulate, scale, relu forward and backward), and
// the increment of an i32 counter (BatchNorm's num_batches_tracked).
// Large tensors are processed in chunks so no binding exceeds the adapter's limit.

import { type Gpu, grid1d, WGSL_FLAT_INDEX } from "./device.ts";
import { defineKernel } from "./kernel.ts";

const WG = 256;

interface MapSpec {
  /** Names the kernel in errors and caches the pipeline. */
  name: string;
  /** How many read-only inputs, visible in `expr` as a, b, c. */
  inputs: number;
  /** A WGSL f32 expression of the inputs, `o` (the old output, if `accumulate`), s0..s3. */
  expr: string;
  /** Whether `expr` reads the output's current value as `o` (read_write output). */
  accumulate?: boolean;
  /** WGSL functions `expr` may call; `expr` may also use the element index `index` (u32). */
  helpers?: string;
}

const NAMES = ["a", "b", "c"];

// One family for every map: the spec is the variant (its name is its key). Every binding
// takes an element offset, so a chunk may start anywhere in its buffers.
const MAP = defineKernel({
  name: "map",
  key: (spec: MapSpec) => spec.name,
  bindings: (spec: MapSpec) => [
    ...NAMES.slice(0, spec.inputs).map((n) => ({ name: n + "_", type: "f32", offset: true })),
    { name: "out", type: "f32", access: "read_write" as const, offset: true },
  ],
  params: { n: "u32", base: "u32", s0: "f32", s1: "f32", s2: "f32" },
  body: (spec: MapSpec) => {
    const loads = NAMES.slice(0, spec.inputs).map((n) => `let ${n} = ${n}_[p.${n}_Off + i];`);
    if (spec.accumulate) loads.push("let o = out[p.outOff + i];");
    return /* wgsl */ `
${WGSL_FLAT_INDEX}
${spec.helpers ?? ""}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg, ${WG}u);
  if (i >= p.n) { return; }
  let s0 = p.s0; let s1 = p.s1; let s2 = p.s2; let index = p.base + i;
  ${loads.join(" ")}
  out[p.outOff + i] = ${spec.expr};
}`;
  },
});

/** Runs a map kernel over `n` f32 elements of `inputs` into `out`. */
export function runMap(
  g: Gpu,
  spec: MapSpec,
  inputs: readonly GPUBuffer[],
  out: GPUBuffer,
  n: number,
  scalars: readonly number[] = [],
): void {
  if (inputs.length !== spec.inputs) {
    throw new Error(`${spec.name}: expected ${spec.inputs} inputs`);
  }
  if (inputs.includes(out)) throw new Error(`${spec.name}: output must not alias an input`);
  const kernel = MAP.get(g, spec);
  const [s0 = 0, s1 = 0, s2 = 0] = scalars;
  const what = `${spec.name}[n=${n}]`;
  for (const c of g.chunks(spec.name, n, [4])) {
    const range = (buffer: GPUBuffer) => ({ buffer, offset: c.start * 4, size: c.count * 4 });
    kernel.dispatch(
      [...inputs.map(range), range(out)],
      { n: c.count, base: c.start, s0, s1, s2 },
      grid1d(c.count, WG),
      what,
    );
  }
}

const FILL: MapSpec = { name: "fill", inputs: 0, expr: "s0" };
const COPY: MapSpec = { name: "copy", inputs: 1, expr: "a" };
const ADD: MapSpec = { name: "add", inputs: 2, expr: "a + b" };
const MUL: MapSpec = { name: "mul", inputs: 2, expr: "a * b" };
const SCALE: MapSpec = { name: "scale", inputs: 1, expr: "a * s0 + s1" };
const ACCUMULATE: MapSpec = { name: "accumulate", inputs: 1, expr: "o + s0 * a", accumulate: true };
// Dropout keeps an element when a hash of (seed, index) clears p; the same seed gives the
// same mask in the backward pass, so the mask is never stored.
const DROPOUT: MapSpec = {
  name: "dropout",
  inputs: 1,
  expr: "select(0.0, a * s1, keep(index, bitcast<u32>(s2), s0))",
  helpers: /* wgsl */ `
fn keep(index: u32, seed: u32, prob: f32) -> bool {
  var h = index * 747796405u + 2891336453u + seed * 277803737u;
  h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
  h = (h >> 22u) ^ h;
  return f32(h >> 8u) / 16777216.0 >= prob;
}`,
};
// torch.relu is clamp_min(a, 0) = (a < 0 ? 0 : a): NaN and -0.0 pass through, as they must for
// a NaN to reach the loss (max(a, 0.0) may return 0 for NaN)
const RELU: MapSpec = { name: "relu", inputs: 1, expr: "select(a, 0.0, a < 0.0)" };
// PyTorch's threshold_backward passes the gradient where the output is positive.
const RELU_BACKWARD: MapSpec = {
  name: "relu_backward",
  inputs: 2,
  expr: "select(0.0, a, b > 0.0)",
};

/** out = value */
export function fill(g: Gpu, out: GPUBuffer, n: number, value: number): void {
  runMap(g, FILL, [], out, n, [value]);
}

/** out = x */
export function copy(g: Gpu, x: GPUBuffer, out: GPUBuffer, n: number): void {
  runMap(g, COPY, [x], out, n);
}

/** out = a + b */
export function add(g: Gpu, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer, n: number): void {
  runMap(g, ADD, [a, b], out, n);
}

/** out = a * b (elementwise) */
export function mul(g: Gpu, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer, n: number): void {
  runMap(g, MUL, [a, b], out, n);
}

/** out = x * scale + shift */
export function scale(
  g: Gpu,
  x: GPUBuffer,
  out: GPUBuffer,
  n: number,
  scale: number,
  shift = 0,
): void {
  runMap(g, SCALE, [x], out, n, [scale, shift]);
}

/** out += alpha * x, in place (gradient accumulation). */
export function accumulate(g: Gpu, out: GPUBuffer, x: GPUBuffer, n: number, alpha = 1): void {
  runMap(g, ACCUMULATE, [x], out, n, [alpha]);
}

/** y = max(x, 0) */
export function relu(g: Gpu, x: GPUBuffer, y: GPUBuffer, n: number): void {
  runMap(g, RELU, [x], y, n);
}

/**
 * out = x * mask / (1 - p), the mask drawn from `seed` (the same seed gives the same mask,
 * which is how the backward pass reproduces it).
 */
export function dropout(
  g: Gpu,
  x: GPUBuffer,
  out: GPUBuffer,
  n: number,
  p: number,
  seed: number,
): void {
  // the seed travels as the bits of an f32: keep them those of a normal finite float, since
  // a NaN or denormal pattern may not survive the trip
  const bits = ((seed >>> 0) & 0x3fffffff) | 0x00800000;
  const seedBits = new Float32Array(new Uint32Array([bits]).buffer)[0];
  runMap(g, DROPOUT, [x], out, n, [p, 1 / (1 - p), seedBits]);
}

/** dx = dy where y > 0, else 0 (y is relu's output). */
export function reluBackward(g: Gpu, dy: GPUBuffer, y: GPUBuffer, dx: GPUBuffer, n: number): void {
  runMap(g, RELU_BACKWARD, [dy, y], dx, n);
}

// An integer counter on the GPU, bumped in submission order with the step's launches (so it
// needs no CPU mirror and no readback).
const INCREMENT = defineKernel({
  name: "increment_i32",
  key: () => "",
  bindings: [{ name: "counter", type: "i32", access: "read_write" }],
  params: { by: "i32" },
  body: () => /* wgsl */ `
@compute @workgroup_size(1)
fn main() { counter[0] = counter[0] + p.by; }`,
});

/** counter[0] += by, for a one-element i32 buffer. */
export function incrementInt(g: Gpu, counter: GPUBuffer, by = 1): void {
  INCREMENT.get(g, undefined).dispatch([counter], { by }, [1, 1], "increment_i32");
}
