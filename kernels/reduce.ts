// Reductions over the middle axis of a tensor viewed as [outer, reduce, inner]: this form
// covers sum/mean of everything (1, n, 1), a linear layer's bias gradient (1, N, F) and
// per-channel sums of NCHW ((N, C, HW) in two steps). Its backward is the broadcast back.
// WGSL has no float atomics, so long reductions run as partial sums in a first pass and
// a second pass over the partials.
//
// Two variants of the sum: one invocation per output (coalesced along `inner`, the one for
// software adapters and for inner > 1), and, for contiguous rows (inner = 1) where the
// adapter has subgroups, one workgroup per output whose invocations read neighbouring
// elements and combine with subgroupAdd (subgroup.ts).
//
// Bindings are declared with `offset` so that chunks along `outer` and pieces of a row
// longer than a binding start wherever they fall, at any storage offset alignment.

import { type Binding, type Gpu, GpuError, grid1d, WGSL_FLAT_INDEX } from "./device.ts";
import { fill } from "./elementwise.ts";
import { defineKernel } from "./kernel.ts";
import {
  slotArgs,
  slotBuiltins,
  subgroupEnables,
  useSubgroups,
  wgslHasSubgroupId,
  workgroupReduceWgsl,
} from "./subgroup.ts";
import { type ReduceTuning, tuning } from "./tuning.ts";

interface SumVariant {
  wg: number;
  /** One workgroup per output, reduced with subgroup operations (needs inner = 1). */
  subgroups: boolean;
  /** The subgroup variant combines subgroups by subgroup_id (subgroup.ts). */
  ids: boolean;
}

const SUM = defineKernel({
  name: "sum",
  key: (v: SumVariant) => `${v.wg} ${+v.subgroups}${+v.ids}`,
  bindings: [
    { name: "x", type: "f32", offset: true },
    { name: "out", type: "f32", access: "read_write", offset: true },
  ],
  params: {
    outer: "u32",
    reduce: "u32",
    inner: "u32",
    stride: "u32",
    parts: "u32",
    span: "u32",
    scale: "f32",
  },
  enables: (v) => subgroupEnables(v.subgroups),
  body: (v) => v.subgroups ? sumRowsBody(v) : sumBody(v.wg),
});

// One invocation per (o, part, i): sums x[o, part*span .. +span, i] into out[o, part, i].
// Rows of x lie `stride` apart (inner, or more when a launch sums a slice of the columns).
const sumBody = (wg: number) => /* wgsl */ `
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flatIndex(gid, nwg, ${wg}u);
  if (t >= p.outer * p.parts * p.inner) { return; }
  let i = t % p.inner;
  let part = (t / p.inner) % p.parts;
  let o = t / (p.inner * p.parts);
  let r0 = part * p.span;
  let r1 = min(r0 + p.span, p.reduce);
  let stride = p.stride; // read once: llvmpipe reloads uniforms inside loops
  var acc = 0.0;
  var at = p.xOff + (o * p.reduce + r0) * stride + i;
  for (var r = r0; r < r1; r++) {
    acc += x[at];
    at += stride;
  }
  out[p.outOff + t] = acc * p.scale;
}`;

// One workgroup per (o, part) of contiguous rows (inner = 1): invocation l adds elements
// l, l + wg, ... of the part, then the workgroup combines. Loop bounds depend only on the
// workgroup, so the subgroup operations run in uniform control flow.
const sumRowsBody = ({ wg, ids }: SumVariant) => /* wgsl */ `
${workgroupReduceWgsl("workgroupSum", "f32", "add", "0.0", { wg, ids })}
@compute @workgroup_size(${wg})
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
  ${slotBuiltins({ wg, ids })}
) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= p.outer * p.parts) { return; } // the same for the whole workgroup
  let part = t % p.parts;
  let o = t / p.parts;
  let r0 = part * p.span;
  let r1 = min(r0 + p.span, p.reduce);
  let base = p.xOff + o * p.reduce;
  var acc = 0.0;
  for (var r = r0; r < r1; r += ${wg}u) {
    if (r + lid < r1) { acc += x[base + r + lid]; }
  }
  let total = workgroupSum(acc, ${slotArgs({ wg, ids })});
  if (lid == 0u) { out[p.outOff + t] = total * p.scale; }
}`;

const BROADCAST = defineKernel({
  name: "broadcast",
  key: (wg: number) => `${wg}`,
  bindings: [
    { name: "g", type: "f32", offset: true },
    { name: "out", type: "f32", access: "read_write", offset: true },
  ],
  params: { outer: "u32", reduce: "u32", inner: "u32", scale: "f32" },
  body: (wg) => /* wgsl */ `
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flatIndex(gid, nwg, ${wg}u);
  if (t >= p.outer * p.reduce * p.inner) { return; }
  let i = t % p.inner;
  let o = t / (p.inner * p.reduce);
  out[p.outOff + t] = g[p.gOff + o * p.inner + i] * p.scale;
}`,
});

/** The sum variant for a reduction with `inner`, and the span one output of a pass covers. */
function sumVariant(g: Gpu, inner: number): { v: SumVariant; span: number } {
  const t: ReduceTuning = tuning(g).reduce;
  const subgroups = inner === 1 && useSubgroups(g, t.subgroups, "sum");
  const ids = subgroups && t.subgroupIds && wgslHasSubgroupId();
  return { v: { wg: t.wg, subgroups, ids }, span: subgroups ? t.subgroupSpan : t.span };
}

/** Records one pass: `outer * parts * inner` outputs, each the sum of up to `span` rows. */
function sumPass(
  g: Gpu,
  v: SumVariant,
  x: Binding,
  out: Binding,
  d: { outer: number; reduce: number; inner: number; parts: number; span: number },
  scale: number,
  what: string,
  stride = d.inner,
): void {
  const outputs = d.outer * d.parts * d.inner;
  SUM.get(g, v).dispatch(
    [x, out],
    { ...d, stride, span: Math.max(d.span, 1), scale },
    v.subgroups ? grid1d(outputs, 1) : grid1d(outputs, v.wg),
    what,
  );
}

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
  if (reduce * inner * 4 > g.maxBindingBytes - g.storageAlign) {
    sumLongRows(g, x, out, outer, reduce, inner, scale);
    return;
  }
  const { v, span } = sumVariant(g, inner);
  let src = x;
  let length = reduce;
  const temps: GPUBuffer[] = [];
  // Split the reduced axis while one output per row would leave the GPU idle.
  while (length > span && outer * inner < 16384) {
    const parts = Math.ceil(length / span);
    const partial = g.pool.acquire(outer * parts * inner * 4, "sum partials");
    launch(g, v, src, partial, outer, length, inner, parts, span, 1);
    temps.push(partial);
    src = partial;
    length = parts;
  }
  launch(g, v, src, out, outer, length, inner, 1, length, scale);
  for (const t of temps) g.pool.release(t);
}

/**
 * sumAxis when one row of the reduced axis is larger than a binding: the row is cut into
 * pieces of as many rows as fit; piece k writes its part sums into slot k of zero-filled
 * partials, which are then reduced.
 */
function sumLongRows(
  g: Gpu,
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
  if (rows === 1) {
    sumRowPairs(g, x, out, outer, reduce, inner, scale, what);
    return;
  }
  const { v, span } = sumVariant(g, inner);
  const pieces = Math.ceil(reduce / rows);
  const slot = Math.ceil(rows / span); // part sums per piece
  const partialSize = outer * pieces * slot * inner;
  const partial = g.pool.acquire(partialSize * 4, "sum partials");
  fill(g, partial, partialSize, 0); // the last piece of a row may fill only part of its slot
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < pieces; k++) {
      const count = Math.min(rows, reduce - k * rows);
      const parts = Math.ceil(count / span);
      sumPass(
        g,
        v,
        { buffer: x, offset: (o * reduce + k * rows) * inner * 4, size: count * inner * 4 },
        { buffer: partial, offset: (o * pieces + k) * slot * inner * 4, size: parts * inner * 4 },
        { outer: 1, reduce: count, inner, parts, span },
        1,
        what,
      );
    }
  }
  sumAxis(g, partial, out, outer, pieces * slot, inner, scale);
  g.pool.release(partial);
}

/**
 * sumLongRows when one row fits a binding but two do not: pairs of rows are summed in slices
 * of columns narrow enough that a slice of both rows (inner + width values apart from its
 * start) fits, into partials of half as many rows, which are then reduced.
 */
function sumRowPairs(
  g: Gpu,
  x: GPUBuffer,
  out: GPUBuffer,
  outer: number,
  reduce: number,
  inner: number,
  scale: number,
  what: string,
): void {
  const width = Math.floor((g.maxBindingBytes - g.storageAlign) / 4) - inner;
  const v = sumVariant(g, 2).v; // a strided sum (the subgroup variant needs inner = 1)
  const pieces = Math.ceil(reduce / 2);
  const partial = g.pool.acquire(outer * pieces * inner * 4, "sum partials");
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < pieces; k++) {
      const count = Math.min(2, reduce - 2 * k);
      for (let i0 = 0; i0 < inner; i0 += width) {
        const w = Math.min(width, inner - i0);
        sumPass(
          g,
          v,
          {
            buffer: x,
            offset: ((o * reduce + 2 * k) * inner + i0) * 4,
            size: ((count - 1) * inner + w) * 4,
          },
          { buffer: partial, offset: ((o * pieces + k) * inner + i0) * 4, size: w * 4 },
          { outer: 1, reduce: count, inner: w, parts: 1, span: count },
          1,
          what,
          inner,
        );
      }
    }
  }
  sumAxis(g, partial, out, outer, pieces, inner, scale);
  g.pool.release(partial);
}

function launch(
  g: Gpu,
  v: SumVariant,
  x: GPUBuffer,
  out: GPUBuffer,
  outer: number,
  reduce: number,
  inner: number,
  parts: number,
  span: number,
  scale: number,
): void {
  const what = `sum[${outer}x${reduce}x${inner}]`;
  const inRow = reduce * inner * 4;
  const outRow = parts * inner * 4;
  // chunks along `outer` keep each binding within the adapter's limit
  for (const c of g.chunks(what, outer, [inRow, outRow])) {
    sumPass(
      g,
      v,
      { buffer: x, offset: c.start * inRow, size: c.count * inRow },
      { buffer: out, offset: c.start * outRow, size: c.count * outRow },
      { outer: c.count, reduce, inner, parts, span },
      scale,
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
  const wg = tuning(g).reduce.wg * 4;
  const kernel = BROADCAST.get(g, wg);
  const what = `broadcast[${outer}x${reduce}x${inner}]`;
  const row = inner * 4;
  if (reduce * row > g.maxBindingBytes - g.storageAlign) {
    // one row of the output is larger than a binding: write it in pieces
    const rows = Math.floor((g.maxBindingBytes - g.storageAlign) / row);
    if (rows < 1) {
      throw new GpuError(`${what}: one row of ${inner} values exceeds a storage binding`);
    }
    for (let o = 0; o < outer; o++) {
      for (let r0 = 0; r0 < reduce; r0 += rows) {
        const count = Math.min(rows, reduce - r0);
        kernel.dispatch(
          [
            { buffer: grad, offset: o * row, size: row },
            { buffer: out, offset: (o * reduce + r0) * row, size: count * row },
          ],
          { outer: 1, reduce: count, inner, scale },
          grid1d(count * inner, wg),
          what,
        );
      }
    }
    return;
  }
  for (const c of g.chunks(what, outer, [row, reduce * row])) {
    kernel.dispatch(
      [
        { buffer: grad, offset: c.start * row, size: c.count * row },
        { buffer: out, offset: c.start * reduce * row, size: c.count * reduce * row },
      ],
      { outer: c.count, reduce, inner, scale },
      grid1d(c.count * reduce * inner, wg),
      what,
    );
  }
}
