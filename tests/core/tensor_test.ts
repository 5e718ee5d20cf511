import assert from "node:assert/strict";
import { defineKernel } from "../../kernels/kernel.ts";
import { Gpu, gpu, GpuError } from "../../kernels/device.ts";
import { add, mean, mul, relu, scale, sum } from "../../nn/ops/basic.ts";
import { noGrad, Scope, Tensor, tidy } from "../../nn/tensor.ts";
import { assertClose, gpuReady, randomArray } from "../helpers.ts";

await gpuReady;

Deno.test("tensors round-trip values, shapes and dtypes", async () => {
  using _ = new Scope();
  const x = Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual(x.shape, [2, 3]);
  assert.deepEqual([...await x.toArray()], [1, 2, 3, 4, 5, 6]);
  const labels = Tensor.fromArray(new Int32Array([3, -1, 7]));
  assert.equal(labels.dtype, "i32");
  assert.deepEqual([...await labels.toInt32Array()], [3, -1, 7]);
  assert.deepEqual([...await Tensor.full([3], 2.5).toArray()], [2.5, 2.5, 2.5]);
  assert.equal(await Tensor.ones([1]).item(), 1);
  assert.deepEqual([...await x.reshape([3, -1]).toArray()], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(x.reshape([-1]).shape, [6]);
  assert.throws(() => x.reshape([4, 2]), /cannot view 6 elements/);
  const r1 = await Tensor.randn([1000], { seed: 3 }).toArray();
  const r2 = await Tensor.randn([1000], { seed: 3 }).toArray();
  assert.deepEqual(r1, r2, "same seed, same draws");
  const m = r1.reduce((s, v) => s + v, 0) / r1.length;
  assert.ok(Math.abs(m) < 0.1, `normal draws have mean ${m}`);
});

Deno.test("int64 labels (PyTorch's) upload as i32; values outside int32 are refused", async () => {
  using _ = new Scope();
  const labels = Tensor.fromArray(BigInt64Array.from([0n, 9n, -1n, 2147483647n, -2147483648n]));
  assert.equal(labels.dtype, "i32");
  assert.deepEqual([...await labels.toInt32Array()], [0, 9, -1, 2147483647, -2147483648]);
  const asFloat = Tensor.fromArray(BigInt64Array.from([3n, 4n]), [2], { dtype: "f32" });
  assert.deepEqual([...await asFloat.toArray()], [3, 4]);
  assert.throws(
    () => Tensor.fromArray(BigInt64Array.from([1n, 2147483648n])),
    /value 2147483648 at index 1 is outside the int32 range/,
  );
  assert.throws(() => Tensor.fromArray(BigInt64Array.from([-2147483649n])), /outside the int32/);
});

Deno.test("elementwise ops and reductions match CPU loops", async () => {
  using _ = new Scope();
  // 70_001 elements: not a multiple of any workgroup size, and long enough that sum
  // runs its partial-sum passes.
  const n = 70_001;
  const a = randomArray(n, 1);
  const b = randomArray(n, 2);
  const ta = Tensor.fromArray(a);
  const tb = Tensor.fromArray(b);
  assertClose(await add(ta, tb).toArray(), a.map((v, i) => v + b[i]), { what: "add" });
  assertClose(await mul(ta, tb).toArray(), a.map((v, i) => v * b[i]), { what: "mul" });
  assertClose(await scale(ta, -3, 0.5).toArray(), a.map((v) => v * -3 + 0.5), { what: "scale" });
  assertClose(await relu(ta).toArray(), a.map((v) => Math.max(v, 0)), { what: "relu" });
  let s = 0;
  for (const v of a) s += v;
  // f32 partial sums of 70k values of size ~1: error grows like sqrt(n)*eps*|v|
  assertClose([await sum(ta).item()], [s], { atol: 1e-3, what: "sum" });
  assertClose([await mean(ta).item()], [s / n], { atol: 1e-7, what: "mean" });
  const m = Tensor.fromArray(a.subarray(0, 6 * 7 * 5), [6, 7, 5]);
  const byDim1 = new Float64Array(6 * 5);
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j < 7; j++) {
      for (let k = 0; k < 5; k++) byDim1[i * 5 + k] += a[(i * 7 + j) * 5 + k];
    }
  }
  const s1 = sum(m, 1);
  assert.deepEqual(s1.shape, [6, 5]);
  assertClose(await s1.toArray(), byDim1, { what: "sum(dim=1)" });
  assertClose(
    await mean(m, -1).toArray(),
    Array.from({ length: 42 }, (_, r) => {
      let t = 0;
      for (let k = 0; k < 5; k++) t += a[r * 5 + k];
      return t / 5;
    }),
    { what: "mean(dim=-1)" },
  );
});

Deno.test("autograd: a tensor used twice gets the sum of its gradients", async () => {
  using _ = new Scope();
  const x = Tensor.fromArray([1, -2, 3], [3], { requiresGrad: true });
  sum(mul(x, x)).backward(); // d/dx sum(x^2) = 2x
  assert.deepEqual([...await x.grad!.toArray()], [2, -4, 6]);
  const y = Tensor.fromArray([1, 2], [2], { requiresGrad: true });
  sum(add(y, y)).backward();
  assert.deepEqual([...await y.grad!.toArray()], [2, 2]);
});

Deno.test("autograd: diamond graph, frozen branch, accumulation, detach, noGrad", async () => {
  using _ = new Scope();
  const x = Tensor.fromArray([-1, 0.5, 2], [3], { requiresGrad: true });
  const frozen = Tensor.fromArray([4, 5, 6], [3]); // requiresGrad false
  // loss = sum(relu(x) * frozen + scale(x, 3)): d/dx = frozen*[x>0] + 3
  const loss = sum(add(mul(relu(x), frozen), scale(x, 3)));
  loss.backward();
  assert.deepEqual([...await x.grad!.toArray()], [3, 8, 9]);
  assert.equal(frozen.grad, null, "a tensor that does not require grad gets no gradient");
  // a second backward accumulates, as in PyTorch
  sum(scale(x, 2)).backward();
  assert.deepEqual([...await x.grad!.toArray()], [5, 10, 11]);
  const d = x.detach();
  assert.equal(d.requiresGrad, false);
  assert.equal(d.gradFn, null);
  const z = noGrad(() => mul(x, x));
  assert.equal(z.requiresGrad, false);
  assert.throws(() => sum(z).backward(), /does not require grad/);
  assert.throws(() => mul(x, x).backward(), /not a scalar/);
  // a gradient through a reshape view
  const w = Tensor.fromArray([1, 2, 3, 4], [2, 2], { requiresGrad: true });
  sum(mul(w.reshape([4]), Tensor.fromArray([1, 10, 100, 1000]))).backward();
  assert.deepEqual([...await w.grad!.toArray()], [1, 10, 100, 1000]);
  assert.deepEqual(w.grad!.shape, [2, 2]);
});

Deno.test("an upload never overwrites a buffer that a pending launch still reads", async () => {
  using _ = new Scope();
  const a = Tensor.fromArray([1, 2, 3, 4]);
  const doubled = scale(a, 2); // recorded, not submitted
  a.dispose(); // its buffer goes back to the pool while the launch still reads it
  const b = Tensor.fromArray([100, 200, 300, 400]); // same size: must not take a's buffer
  assert.deepEqual([...await doubled.toArray()], [2, 4, 6, 8]);
  assert.deepEqual([...await b.toArray()], [100, 200, 300, 400]);
});

Deno.test("launches split into chunks when a tensor exceeds one storage binding", async () => {
  const g = gpu();
  const limit = g.maxBindingBytes;
  g.maxBindingBytes = 4096; // 1024 floats per binding: forces many chunks
  try {
    using _ = new Scope();
    const n = 10_000;
    const a = randomArray(n, 5);
    const x = Tensor.fromArray(a);
    assertClose(await add(x, x).toArray(), a.map((v) => 2 * v), { what: "chunked add" });
    const m = Tensor.fromArray(a, [100, 100]);
    const rowSums = Array.from(
      { length: 100 },
      (_, r) => a.subarray(r * 100, r * 100 + 100).reduce((s, v) => s + v, 0),
    );
    assertClose(await sum(m, 1).toArray(), rowSums, { atol: 1e-4, what: "chunked sum" });
    // one reduced row larger than a binding: all 10,000 values, and 3 long rows
    let total = 0;
    for (const v of a) total += v;
    assertClose([await sum(x).item()], [total], {
      atol: 1e-3,
      what: "sum of a row over the limit",
    });
    const long = Tensor.fromArray(a.subarray(0, 9000), [3, 3000]);
    const longSums = [0, 1, 2].map((r) =>
      a.subarray(r * 3000, r * 3000 + 3000).reduce((s, v) => s + v, 0)
    );
    assertClose(await sum(long, 1).toArray(), longSums, {
      atol: 1e-3,
      what: "3 rows over the limit",
    });
    const cols = Tensor.fromArray(a.subarray(0, 7 * 1400), [1400, 7]); // strided columns
    const colMeans = Array.from({ length: 7 }, (_, c) => {
      let t = 0;
      for (let r = 0; r < 1400; r++) t += a[r * 7 + c];
      return t / 1400;
    });
    assertClose(await mean(cols, 0).toArray(), colMeans, {
      atol: 1e-5,
      what: "column means over the limit",
    });
    // and back: the gradient of a mean over rows larger than a binding
    const w = Tensor.fromArray(a.subarray(0, 7 * 1400), [1400, 7], { requiresGrad: true });
    sum(mean(w, 0)).backward();
    assertClose(await w.grad!.toArray(), new Float32Array(7 * 1400).fill(1 / 1400), {
      atol: 1e-9,
      what: "mean backward over the limit",
    });
    w.grad!.dispose();
  } finally {
    g.maxBindingBytes = limit;
  }
});

Deno.test("memory stays flat across many steps of forward and backward", async () => {
  const g = gpu();
  const w = Tensor.parameter(randomArray(4096, 7), [64, 64], "w");
  const step = () => {
    using _ = new Scope();
    const x = Tensor.rand([64, 64], { seed: 1 });
    const loss = mean(relu(add(mul(x, w), w)));
    loss.backward();
  };
  for (let i = 0; i < 3; i++) step();
  await g.sync();
  const before = g.pool.stats();
  for (let i = 0; i < 200; i++) step();
  await g.sync();
  const after = g.pool.stats();
  assert.equal(after.liveBuffers, before.liveBuffers, "live buffers");
  assert.equal(after.liveBytes, before.liveBytes, "live bytes");
  assert.equal(after.peakBytes, before.peakBytes, "pool peak");
  w.grad?.dispose();
  w.dispose();
});

Deno.test("tidy keeps what it returns and frees the rest", async () => {
  const g = gpu();
  await g.sync();
  const live = g.pool.stats().liveBuffers;
  const kept = tidy(() => scale(add(Tensor.ones([8]), Tensor.ones([8])), 3));
  assert.equal(g.pool.stats().liveBuffers, live + 1);
  assert.deepEqual([...await kept.toArray()], Array(8).fill(6));
  kept.dispose();
  assert.equal(g.pool.stats().liveBuffers, live);
});

Deno.test("errors name the op and say what to do", async () => {
  using _ = new Scope();
  assert.throws(
    () => add(Tensor.ones([2, 3]), Tensor.ones([3, 2])),
    /add: shapes \[2,3\] and \[3,2\] differ/,
  );
  const x = Tensor.ones([2]);
  x.dispose();
  assert.throws(() => scale(x, 2), /used after dispose/);
  // no adapter: the message says what to install
  const original = navigator.gpu.requestAdapter;
  Object.defineProperty(navigator.gpu, "requestAdapter", {
    value: () => Promise.resolve(null),
    configurable: true,
  });
  try {
    await assert.rejects(
      Gpu.create(),
      (e: Error) => e instanceof GpuError && /mesa-vulkan-drivers/.test(e.message),
    );
  } finally {
    Object.defineProperty(navigator.gpu, "requestAdapter", { value: original, configurable: true });
  }
  // a launch too large for one workgroup dimension is refused before the GPU sees it
  const g = gpu();
  const noop = defineKernel({
    name: "noop",
    key: () => "",
    bindings: [],
    params: {},
    body: () => "@compute @workgroup_size(1) fn main() {}",
  });
  assert.throws(() => noop.get(g, null).dispatch([], {}, [1e6]), /noop: 1000000 workgroups/);
});

Deno.test("a lost device is reported, not waited on forever", async () => {
  const g2 = await Gpu.create(); // a device of its own, so the shared one is untouched
  const buffer = g2.upload(new Float32Array([1, 2, 3]));
  g2.device.destroy();
  await assert.rejects(
    g2.read([{ buffer, size: 12 }]),
    (e: Error) => e instanceof GpuError && /device lost/.test(e.message),
  );
  assert.throws(() => g2.upload(new Float32Array(1)), /device lost/);
});
