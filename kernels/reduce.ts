// Reductions over the middle axis of a tensor viewed as [outer, reduce, inner]: this form
// covers sum/mean of everything (1, n, 1), a linear layer's bias gradient (1, N, F) and
// per-channel sums of NCHW ((N, C, HW) in two steps). Its backward is the broadcast back.
// WGSL has no float atomics, so long reductions run as partial sums in a first pass and
// a second pass over the partials.

import { type Gpu, GpuError, grid1d, type Kernel, WGSL_FLAT_INDEX } from "./device.ts";
import { fill } from "./elementwise.ts";

const WG = 64;
// Each invocation sums at most this many elements of the reduced axis per pass.
const SPAN = 256;

const SUM_AXIS = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
struct Params {
  outer: u32, reduce: u32, inner: u32, parts: u32, span: u32, scale: f32,
  xBase: u32, outBase: u32, // element offsets into the bindings (for pieces of a long row)
}
@group(0) @binding(2) var<uniform> p: Params;
${WGSL_FLAT_INDEX}
// One invocation per (o, part, i): sums x[o, part*span .. +span, i] into out[o, part, i].
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flatIndex(gid, nwg, ${WG}u);
  if (t >= p.outer * p.parts * p.inner) { return; }
  let i = t % p.inner;
  let part = (t / p.inner) % p.parts;
  let o = t / (p.inner * p.parts);
  let r0 = part * p.span;
  let r1 = min(r0 + p.span, p.reduce);
  var acc = 0.0;
  var at = p.xBase + (o * p.reduce + r0) * p.inner + i;
  for (var r = r0; r < r1; r++) {
    acc += x[at];
    at += p.inner;
  }
  out[p.outBase + t] = acc * p.scale;
}`;

const BROADCAST_AXIS = /* wgsl */ `
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
struct Params { outer: u32, reduce: u32, inner: u32, scale: f32, gBase: u32, outBase: u32 }
@group(0) @binding(2) var<uniform> p: Params;
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${WG * 4})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flatIndex(gid, nwg, ${WG * 4}u);
  if (t >= p.outer * p.reduce * p.inner) { return; }
  let i = t % p.inner;
  let o = t / (p.inner * p.reduce);
  out[p.outBase + t] = g[p.gBase + o * p.inner + i] * p.scale;
}`;

/**
 * out[o, i] = scale * sum_r x[o, r, i]. Uses temporary buffers from the pool for long
 * reductions; `out` must hold outer*inner floats.
 */
export function sumAxis(
  g: Gpu,
  x: GPUBuffer,
  out: GPUBuffer,
  outer: number,
  reduce: number,
  inner: number,
  scale = 1,
): void {
  const kernel = g.kernel("sum", SUM_AXIS);
  if (reduce * inner * 4 > g.maxBindingBytes) {
    sumLongRows(g, kernel, x, out, outer, reduce, inner, scale);
    return;
  }
  let src = x;
  let length = reduce;
  const temps: GPUBuffer[] = [];
  // Split the reduced axis while one invocation per output would leave the GPU idle.
  while (length > SPAN && outer * inner < 16384) {
    const parts = Math.ceil(length / SPAN);
    const partial = g.pool.acquire(outer * parts * inner * 4, "sum partials");
    launch(g, kernel, src, partial, outer, length, inner, parts, SPAN, 1);
    temps.push(partial);
    src = partial;
    length = parts;
  }
  launch(g, kernel, src, out, outer, length, inner, 1, length, scale);
  for (const t of temps) g.pool.release(t);
}

/**
 * sumAxis when one row of the reduced axis is larger than a binding: the row is cut into
 * pieces of as many rows as fit, each bound at an offset rounded down to the alignment;
 * piece k writes its part sums into slot k of zero-filled partials, which are then reduced.
 */
function sumLongRows(
  g: Gpu,
  kernel: Kernel,
  x: GPUBuffer,
  out: GPUBuffer,
  outer: number,
  reduce: number,
  inner: number,
  scale: number,
): void {
  const what = `sum[${outer}x${reduce}x${inner}]`;
  const rows = Math.floor((g.maxBindingBytes - g.storageAlign) / (inner * 4));
  if (rows < 1) {
    throw new GpuError(`${what}: one row of ${inner} values exceeds a storage binding`);
  }
  const pieces = Math.ceil(reduce / rows);
  const slot = Math.ceil(rows / SPAN); // part sums per piece
  const partialSize = outer * pieces * slot * inner;
  const partial = g.pool.acquire(partialSize * 4, "sum partials");
  fill(g, partial, partialSize, 0); // the last piece of a row may fill only part of its slot
  const params = new ArrayBuffer(32);
  const u = new Uint32Array(params);
  new Float32Array(params)[5] = 1;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < pieces; k++) {
      const count = Math.min(rows, reduce - k * rows);
      const start = (o * reduce + k * rows) * inner * 4;
      const offset = start - (start % g.storageAlign);
      const parts = Math.ceil(count / SPAN);
      u.set([1, count, inner, parts, SPAN]); // one row of `count`, scale 1 (set above)
      u[6] = (start - offset) / 4; // xBase: where the piece starts within its binding
      u[7] = (o * pieces + k) * slot * inner; // outBase: the piece's slot
      g.dispatch(
        kernel,
        [
          { buffer: x, offset, size: start - offset + count * inner * 4 },
          { buffer: partial, offset: 0, size: partialSize * 4 },
        ],
        u,
        grid1d(parts * inner, WG),
        what,
      );
    }
  }
  sumAxis(g, partial, out, outer, pieces * slot, inner, scale);
  g.pool.release(partial);
}

function launch(
  g: Gpu,
  kernel: Kernel,
  x: GPUBuffer,
  out: GPUBuffer,
  outer: number,
  reduce: number,
  inner: number,
  parts: number,
  span: number,
  scale: number,
): void {
  const params = new ArrayBuffer(32);
  const u = new Uint32Array(params);
  new Float32Array(params)[5] = scale;
  u.set([0, reduce, inner, parts, Math.max(span, 1)]); // xBase and outBase stay 0
  const what = `sum[${outer}x${reduce}x${inner}]`;
  // chunks along `outer` keep each binding within the adapter's limit
  for (const c of g.chunks(what, outer, [reduce * inner * 4, parts * inner * 4], true)) {
    u[0] = c.count;
    g.dispatch(
      kernel,
      [
        { buffer: x, offset: c.start * reduce * inner * 4, size: c.count * reduce * inner * 4 },
        { buffer: out, offset: c.start * parts * inner * 4, size: c.count * parts * inner * 4 },
      ],
      u,
      grid1d(c.count * parts * inner, WG),
      what,
    );
  }
}

/** out[o, r, i] = scale * g[o, i] — the backward of sumAxis. */
export function broadcastAxis(
  g: Gpu,
  grad: GPUBuffer,
  out: GPUBuffer,
  outer: number,
  reduce: number,
  inner: number,
  scale = 1,
): void {
  const kernel = g.kernel("broadcast", BROADCAST_AXIS);
  const params = new ArrayBuffer(32);
  const u = new Uint32Array(params);
  new Float32Array(params)[3] = scale;
  const what = `broadcast[${outer}x${reduce}x${inner}]`;
  if (reduce * inner * 4 > g.maxBindingBytes) {
    // one row of the output is larger than a binding: write it in pieces, each bound at an
    // offset rounded down to the alignment (as sumLongRows reads them)
    const rows = Math.floor((g.maxBindingBytes - g.storageAlign) / (inner * 4));
    if (rows < 1) {
      throw new GpuError(`${what}: one row of ${inner} values exceeds a storage binding`);
    }
    for (let o = 0; o < outer; o++) {
      const gStart = o * inner * 4;
      const gOffset = gStart - (gStart % g.storageAlign);
      for (let r0 = 0; r0 < reduce; r0 += rows) {
        const count = Math.min(rows, reduce - r0);
        const start = (o * reduce + r0) * inner * 4;
        const offset = start - (start % g.storageAlign);
        u.set([1, count, inner]);
        u[4] = (gStart - gOffset) / 4;
        u[5] = (start - offset) / 4;
        g.dispatch(
          kernel,
          [
            { buffer: grad, offset: gOffset, size: gStart - gOffset + inner * 4 },
            { buffer: out, offset, size: start - offset + count * inner * 4 },
          ],
          u,
          grid1d(count * inner, WG * 4),
          what,
        );
      }
    }
    return;
  }
  u.set([0, reduce, inner]); // gBase and outBase stay 0
  for (const c of g.chunks(what, outer, [inner * 4, reduce * inner * 4], true)) {
    u[0] = c.count;
    g.dispatch(
      kernel,
      [
        { buffer: grad, offset: c.start * inner * 4, size: c.count * inner * 4 },
        { buffer: out, offset: c.start * reduce * inner * 4, size: c.count * reduce * inner * 4 },
      ],
      u,
      grid1d(c.count * reduce * inner, WG * 4),
      what,
    );
  }
}
