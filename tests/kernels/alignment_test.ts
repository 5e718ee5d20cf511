// Chunked launches with the 256-byte storage offset alignment that WebGPU defaults to (and
// many GPUs and Chromium's adapter have): chunks start at offsets that are not multiples of
// it, and kernel.ts binds from the aligned offset below with an element offset. Each case
// compares the chunked result with the same op run whole (same arithmetic per element, so
// equal up to the grouping of sums).

import assert from "node:assert/strict";
import { gpu } from "../../kernels/device.ts";
import { add, mul } from "../../nn/ops/basic.ts";
import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from "../../nn/ops/pooling.ts";
import { Scope, Tensor } from "../../nn/tensor.ts";
import { assertClose, gpuReady, randomArray, withBindingLimits } from "../helpers.ts";

await gpuReady;

// 100 floats per chunk (400 bytes): every other chunk starts off a 256-byte boundary
const LIMITS = { maxBindingBytes: 400 + 256, storageAlign: 256 };

Deno.test("elementwise maps chunked at unaligned offsets (alignment 256)", async () => {
  const a = randomArray(1_234, 1);
  const b = randomArray(1_234, 2);
  const run = async () => {
    using _ = new Scope();
    const x = Tensor.fromArray(a), y = Tensor.fromArray(b);
    return [await add(x, y).toArray(), await mul(x, y).toArray()];
  };
  const whole = await run();
  const launches = gpu().counters.launches;
  const chunked = await withBindingLimits(LIMITS, run);
  assert.ok(gpu().counters.launches - launches >= 2 * 13, "each map ran in 13 chunks");
  assertClose(chunked[0], whole[0], { atol: 0, rtol: 0, what: "add" });
  assertClose(chunked[1], whole[1], { atol: 0, rtol: 0, what: "mul" });
});

Deno.test("pooling chunked by planes at unaligned offsets (alignment 256)", async () => {
  const shape = [2, 5, 9, 11]; // 99 floats per input plane, 30 per output plane
  const xs = randomArray(2 * 5 * 99, 3);
  const ops = [
    (x: Tensor) => maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }),
    (x: Tensor) => avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }),
    (x: Tensor) => adaptiveAvgPool2d(x, [4, 3]),
  ];
  const run = () =>
    Promise.all(ops.map(async (op) => {
      using _ = new Scope();
      const x = Tensor.fromArray(xs, shape, { requiresGrad: true });
      const y = op(x);
      y.backward(Tensor.fromArray(randomArray(y.size, 4), y.shape));
      return [await y.toArray(), await x.grad!.toArray()];
    }));
  const whole = await run();
  const chunked = await withBindingLimits(LIMITS, run);
  chunked.forEach(([y, dx], i) => {
    assertClose(y, whole[i][0], { atol: 0, rtol: 0, what: `op ${i} forward` });
    assertClose(dx, whole[i][1], { atol: 1e-7, rtol: 0, what: `op ${i} backward` });
  });
});
