// The elementwise and reduction kernels on their own, against plain loops: every map of
// kernels/elementwise.ts, sumAxis and broadcastAxis over each axis split, on sizes that are
// not multiples of the vector width, and chunked under a tiny binding limit.

import assert from "node:assert/strict";
import { gpu } from "../../kernels/device.ts";
import * as ew from "../../kernels/elementwise.ts";
import * as red from "../../kernels/reduce.ts";
import { Scope, Tensor } from "../../nn/tensor.ts";
import { assertClose, gpuReady, randomArray, withBindingLimits } from "../helpers.ts";

await gpuReady;

const SIZES = [1, 7, 1029];

async function run(n: number, launch: (out: GPUBuffer) => void, init?: Float32Array) {
  const out = init ? Tensor.fromArray(init.slice()) : Tensor.empty([n]);
  launch(out.buffer);
  return await out.toArray();
}

async function checkMaps(): Promise<void> {
  const g = gpu();
  for (const n of SIZES) {
    using _ = new Scope();
    const a = randomArray(n, 1), b = randomArray(n, 2);
    const ta = Tensor.fromArray(a), tb = Tensor.fromArray(b);
    const loop = (f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));
    const what = (op: string) => `${op} n=${n}`;
    assertClose(await run(n, (o) => ew.fill(g, o, n, 2.5)), loop(() => 2.5), {
      what: what("fill"),
    });
    assertClose(await run(n, (o) => ew.copy(g, ta.buffer, o, n)), a, { what: what("copy") });
    assertClose(
      await run(n, (o) => ew.add(g, ta.buffer, tb.buffer, o, n)),
      loop((i) => a[i] + b[i]),
      {
        what: what("add"),
      },
    );
    assertClose(
      await run(n, (o) => ew.mul(g, ta.buffer, tb.buffer, o, n)),
      loop((i) => a[i] * b[i]),
      {
        what: what("mul"),
      },
    );
    assertClose(
      await run(n, (o) => ew.scale(g, ta.buffer, o, n, -2, 0.5)),
      loop((i) => a[i] * -2 + 0.5),
      { what: what("scale") },
    );
    assertClose(
      await run(n, (o) => ew.accumulate(g, o, tb.buffer, n, 0.25), a),
      loop((i) => a[i] + 0.25 * b[i]),
      { what: what("accumulate") },
    );
    const y = await run(n, (o) => ew.relu(g, ta.buffer, o, n));
    assertClose(y, loop((i) => Math.max(a[i], 0)), { what: what("relu") });
    assertClose(
      await run(n, (o) => ew.reluBackward(g, tb.buffer, Tensor.fromArray(y).buffer, o, n)),
      loop((i) => (y[i] > 0 ? b[i] : 0)),
      { what: what("reluBackward") },
    );
    // dropout: each element kept (scaled by 1/(1-p)) or zeroed; the same seed, the same mask
    const ones = Tensor.fromArray(new Float32Array(n).fill(1));
    const d1 = await run(n, (o) => ew.dropout(g, ones.buffer, o, n, 0.25, 42));
    const d2 = await run(n, (o) => ew.dropout(g, ones.buffer, o, n, 0.25, 42));
    assert.deepEqual(d1, d2, what("dropout is reproducible"));
    assert.ok(d1.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6), what("dropout values"));
    if (n > 1000) {
      const kept = d1.filter((v) => v !== 0).length / n;
      assert.ok(Math.abs(kept - 0.75) < 0.05, `${what("dropout")}: kept ${kept}`);
    }
  }
}

Deno.test("elementwise kernels match loops", checkMaps);

Deno.test("elementwise kernels match loops in chunks (tiny binding limit)", () =>
  withBindingLimits({ maxBindingBytes: 1024, storageAlign: 256 }, checkMaps));

const REDUCE_CASES = [[1, 1029, 1], [3, 7, 5], [4, 300, 1], [1, 2, 257]];

async function checkReduce(cases = REDUCE_CASES): Promise<void> {
  const g = gpu();
  for (const [outer, reduce, inner] of cases) {
    using _ = new Scope();
    const n = outer * reduce * inner;
    const x = randomArray(n, outer + reduce + inner);
    const sums = new Float64Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < reduce; r++) {
        for (let i = 0; i < inner; i++) sums[o * inner + i] += x[(o * reduce + r) * inner + i];
      }
    }
    const what = `[${outer}, ${reduce}, ${inner}]`;
    const tx = Tensor.fromArray(x);
    const out = Tensor.empty([outer * inner]);
    red.sumAxis(g, tx.buffer, out.buffer, outer, reduce, inner, 0.5);
    // f32 sums of up to ~1000 values in [-1, 1]: error ~1e-5 at worst
    assertClose(await out.toArray(), sums.map((v) => v * 0.5), {
      atol: 2e-5,
      what: `sumAxis ${what}`,
    });
    const grad = randomArray(outer * inner, 9);
    const back = Tensor.empty([n]);
    red.broadcastAxis(g, Tensor.fromArray(grad).buffer, back.buffer, outer, reduce, inner, 2);
    const want = Float64Array.from(
      { length: n },
      (_, k) => 2 * grad[Math.floor(k / (reduce * inner)) * inner + (k % inner)],
    );
    assertClose(await back.toArray(), want, { what: `broadcastAxis ${what}` });
  }
}

Deno.test("sumAxis and broadcastAxis match loops", () => checkReduce());

// Under a 2048-byte binding, [1, 2, 257] and [2, 5, 300] have rows of which one fits a binding
// but two do not (pairs of rows summed in column slices); [1, 1029, 1] has a reduced row
// over the limit (pieces of rows).
Deno.test("sumAxis and broadcastAxis match loops in chunks (tiny binding limit)", () =>
  withBindingLimits(
    { maxBindingBytes: 2048, storageAlign: 256 },
    () => checkReduce([...REDUCE_CASES, [2, 5, 300]]),
  ));
