import assert from "node:assert/strict";
import {
  pendingClasses,
  setAutotune,
  tune,
  tuningResults,
  type TuningStore,
} from "../../kernels/autotune.ts";
import { type Gpu, gpu, GpuError } from "../../kernels/device.ts";
import { gemm, GEMM_VARIANTS, type GemmOptions } from "../../kernels/gemm.ts";
import {
  type GemmVariant,
  GPU_TUNING,
  overrideTuning,
  SOFTWARE_TUNING,
  tuning,
  withTuning,
} from "../../kernels/tuning.ts";
import { assertClose, gpuReady, randomArray } from "../helpers.ts";

await gpuReady;

/** The plain loop: C[b] = op(A[b])·op(B[b]) (+ bias) (+ C[b] if accumulating), in f64. */
function gemmReference(
  a: Float32Array,
  b: Float32Array,
  c0: Float32Array,
  o: GemmOptions,
  bias?: Float32Array,
): Float64Array {
  const { m, n, k } = o;
  const batch = o.batch ?? 1;
  const sA = o.strideA ?? m * k;
  const sB = o.strideB ?? k * n;
  const sC = o.strideC ?? m * n;
  const out = Float64Array.from(c0);
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = o.transA ? a[z * sA + p * m + i] : a[z * sA + i * k + p];
          const bv = o.transB ? b[z * sB + j * k + p] : b[z * sB + p * n + j];
          s += av * bv;
        }
        if (bias) s += (o.biasAxis ?? "n") === "n" ? bias[j] : bias[i];
        const at = z * sC + i * n + j;
        out[at] = (o.accumulate ? out[at] : 0) + s;
      }
    }
  }
  return out;
}

let seed = 100;

/** Runs one product on the GPU and compares it with the loop. */
async function check(o: GemmOptions, withBias = false): Promise<void> {
  const g = gpu();
  const batch = o.batch ?? 1;
  const lenA = batch === 0 ? 0 : (batch - 1) * (o.strideA ?? o.m * o.k) + o.m * o.k;
  const lenB = batch === 0 ? 0 : (batch - 1) * (o.strideB ?? o.k * o.n) + o.k * o.n;
  const lenC = batch * (o.strideC ?? o.m * o.n);
  const a = randomArray(lenA, seed++);
  const b = randomArray(lenB, seed++);
  const c0 = randomArray(lenC, seed++);
  const bias = withBias ? randomArray((o.biasAxis ?? "n") === "n" ? o.n : o.m, seed++) : undefined;
  const bufs = [g.upload(a), g.upload(b), g.upload(c0)];
  const biasBuf = bias ? g.upload(bias) : undefined;
  try {
    gemm(g, bufs[0], bufs[1], bufs[2], { ...o, bias: biasBuf });
    const [bytes] = await g.read([{ buffer: bufs[2], size: lenC * 4 }]);
    // f32 products of values in [-1, 1) summed over k terms: rounding error grows about
    // like sqrt(k) * 2^-24 * k; 1e-5 * k covers it with room and stays far below a wrong sum
    const atol = 1e-5 * Math.max(o.k, 1) + 1e-6;
    const label = `gemm ${JSON.stringify(o)}${withBias ? " +bias" : ""}`;
    assertClose(new Float32Array(bytes), gemmReference(a, b, c0, o, bias), {
      atol,
      rtol: 1e-5,
      what: label,
    });
  } finally {
    for (const x of bufs) g.pool.release(x);
    if (biasBuf) g.pool.release(biasBuf);
  }
}

const TRANS = [[false, false], [false, true], [true, false], [true, true]] as const;

// ---- the cases, each run with every variant ----

async function oddShapes(): Promise<void> {
  // m x n x k: single elements, primes, one past a tile, vec4-friendly and not
  const shapes = [[1, 1, 1], [7, 13, 5], [33, 65, 17], [64, 64, 64], [100, 3, 257], [4, 132, 8], [
    9,
    4,
    3,
  ]];
  for (const [transA, transB] of TRANS) {
    for (const [m, n, k] of shapes) await check({ m, n, k, transA, transB });
  }
}

async function biasAndAccumulation(): Promise<void> {
  await check({ m: 33, n: 20, k: 12 }, true);
  await check({ m: 5, n: 7, k: 3, transB: true }, true);
  await check({ m: 17, n: 8, k: 9, biasAxis: "m" }, true);
  await check({ m: 33, n: 65, k: 17, accumulate: true });
  await check({ m: 12, n: 16, k: 8, transA: true, accumulate: true }, true);
  await check({ m: 6, n: 5, k: 0 }, true); // C = bias
  await check({ m: 6, n: 8, k: 0, accumulate: true }); // C unchanged
}

async function batched(): Promise<void> {
  await check({ m: 7, n: 13, k: 5, batch: 3 });
  await check({ m: 8, n: 12, k: 16, batch: 3, transB: true });
  await check({ m: 5, n: 6, k: 7, batch: 3, transA: true, strideB: 0 }); // one B for all
  await check({ m: 9, n: 4, k: 3, batch: 2, strideA: 0 }, true);
  await check({ m: 1, n: 10, k: 512, transB: true }, true); // fc forward at batch 1
  await check({ m: 3, n: 1000, k: 512, transB: true }, true); // fc forward, 1000 classes
  await check({ m: 1000, n: 512, k: 3, transA: true }); // fc weight gradient dYᵀX
  await check({ m: 3, n: 512, k: 1000 }); // fc input gradient dY·W
}

/** Products larger than one binding under a small limit (and the given offset alignment). */
async function splits(storageAlign?: number): Promise<void> {
  const g = gpu();
  const limit = g.maxBindingBytes;
  const align = g.storageAlign;
  g.maxBindingBytes = 4096; // 1024 floats per binding
  g.storageAlign = storageAlign ?? align;
  try {
    await check({ m: 40, n: 24, k: 12, batch: 6 }); // every matrix fits: split the batch
    await check({ m: 100, n: 20, k: 33 }); // A and C too large: split M
    await check({ m: 10, n: 12, k: 300, transA: true }, true); // A^T too large: split K, accumulate
    await check({ m: 6, n: 130, k: 40, transB: true, accumulate: true }, true); // split N
    await check({ m: 64, n: 64, k: 64, transA: true, transB: true, batch: 2 }, true);
    await check({ m: 37, n: 41, k: 29, batch: 2 }); // scalar paths split as well
    await check({ m: 5, n: 6, k: 7, batch: 30, transA: true, strideB: 0 }, true); // batch runs
  } finally {
    g.maxBindingBytes = limit;
    g.storageAlign = align;
  }
}

for (const variant of GEMM_VARIANTS) {
  const forced = { gemm: { variant } };
  Deno.test(`gemm ${variant}: odd shapes in all four transpose combinations`, () =>
    withTuning(gpu(), forced, oddShapes));
  Deno.test(`gemm ${variant}: bias per column or per row, accumulation, k = 0`, () =>
    withTuning(gpu(), forced, biasAndAccumulation));
  Deno.test(`gemm ${variant}: batched, with a shared operand, and the ResNet18 fc shapes`, () =>
    withTuning(gpu(), forced, batched));
  Deno.test(`gemm ${variant}: operands larger than one storage binding give the same numbers`, () =>
    withTuning(gpu(), forced, () => splits()));
  Deno.test(`gemm ${variant}: chunks bound at a 256-byte offset alignment`, () =>
    withTuning(gpu(), forced, () => splits(256)));
}

Deno.test("gemm registers with the GPU tile shape gives the same numbers", async () => {
  const g = gpu();
  const gpuTiles = GPU_TUNING.gemm.registers;
  const softTiles = SOFTWARE_TUNING.gemm.registers;
  await withTuning(g, { gemm: { variant: "registers", registers: gpuTiles } }, async () => {
    await check({ m: 70, n: 67, k: 19 }, true);
    await check({ m: 64, n: 128, k: 16, transA: true, transB: true, batch: 2 });
  });
  const narrow = { ...softTiles, mFastest: false, tm: 4 };
  await withTuning(g, { gemm: { variant: "registers", registers: narrow } }, async () => {
    await check({ m: 21, n: 36, k: 10, transB: true }, true);
  });
});

Deno.test("gemm tiled with other tile shapes gives the same numbers", async () => {
  const shapes = [
    { bm: 32, bn: 32, bk: 16, tm: 4, tn: 4 },
    { bm: 64, bn: 64, bk: 8, tm: 4, tn: 8 }, // two column groups per invocation, short K steps
    { bm: 16, bn: 32, bk: 4, tm: 8, tn: 4 }, // fewer invocations than A and B units
    GPU_TUNING.gemm.tiled, // 256 invocations, 16 KiB of tiles
  ];
  for (const tiled of shapes) {
    await withTuning(gpu(), { gemm: { variant: "tiled", tiled } }, async () => {
      await check({ m: 70, n: 67, k: 19 }, true);
      await check({ m: 64, n: 128, k: 36, transA: true, transB: true, batch: 2 });
      await check({ m: 9, n: 130, k: 41, transB: true, biasAxis: "m" }, true);
      await check({ m: 33, n: 20, k: 24, transA: true, accumulate: true });
    });
  }
});

Deno.test("tiled gemm tiles the kernel cannot run are refused, naming the field", () => {
  const g = gpu();
  const bad = [
    [{ bm: 64, bn: 64, bk: 16, tm: 2, tn: 4 }, /gemm\.tiled\.tm/], // not a multiple of 4
    [{ bm: 64, bn: 128, bk: 8, tm: 4, tn: 4 }, /gemm\.tiled: 512 invocations/],
    [{ bm: 128, bn: 64, bk: 16, tm: 8, tn: 8 }, /gemm\.tiled: 24576 bytes of workgroup memory/],
    [{ bm: 36, bn: 32, bk: 16, tm: 8, tn: 4 }, /gemm\.tiled\.bm/], // tm does not divide bm
    [{ bm: 32, bn: 32, bk: 6, tm: 4, tn: 4 }, /gemm\.tiled\.bk/],
  ] as const;
  for (const [tiled, message] of bad) {
    assert.throws(() => overrideTuning(g, { gemm: { tiled } }), RangeError);
    assert.throws(() => overrideTuning(g, { gemm: { tiled } }), message);
  }
  // the tables' own tiles pass
  for (const t of [SOFTWARE_TUNING, GPU_TUNING]) {
    overrideTuning(g, { gemm: { tiled: t.gemm.tiled } });
  }
  overrideTuning(g, null);
});

/** An in-memory TuningStore that remembers what was saved. */
function memoryStore(initial: Record<string, string> = {}) {
  const saved: Record<string, string>[] = [];
  const store: TuningStore = {
    load: () => Promise.resolve({ ...initial }),
    save: (_adapter, winners) => {
      saved.push({ ...winners });
      return Promise.resolve();
    },
  };
  return { store, saved };
}

/** The labels of the pipelines `f` records (which variant ran). */
function pipelinesOf(g: Gpu, f: () => void | Promise<void>): Promise<string[]> {
  const labels: string[] = [];
  const record = g.record;
  g.record = (pipeline, ...rest) => {
    labels.push(pipeline.label);
    return record.call(g, pipeline, ...rest);
  };
  return Promise.resolve(f()).then(() => labels).finally(() => {
    g.record = record;
  });
}

Deno.test("gemm autotuning times both variants for a shape class and then runs the winner", async () => {
  const g = gpu();
  const o = { m: 64, n: 48, k: 40 };
  const { store, saved } = memoryStore();
  await setAutotune(g, { enabled: true, store });
  try {
    // the first product runs the table's variant and queues its shape class
    const first = await pipelinesOf(g, () => check(o));
    assert.deepEqual(first, [`gemm ${tuning(g).gemm.variant}`]);
    assert.deepEqual(pendingClasses(g), ["gemm nn 64x64x32"]);
    assert.equal(await tune(g, 2), 1);
    const winner = saved.at(-1)?.["gemm nn 64x64x32"];
    assert.ok(GEMM_VARIANTS.includes(winner as GemmVariant), `a winner was saved: ${winner}`);
    const timed = tuningResults(g).timings["gemm nn 64x64x32"];
    assert.deepEqual(Object.keys(timed).sort(), [...GEMM_VARIANTS].sort());
    // the next product of that class (other sizes that round the same) runs the winner
    const second = await pipelinesOf(g, () => check({ m: 60, n: 50, k: 36 }));
    assert.deepEqual(second, [`gemm ${winner}`]);
    assert.deepEqual(pendingClasses(g), []);
    // a winner loaded from the store is used without measuring
    await setAutotune(g, {
      enabled: true,
      store: memoryStore({ "gemm tn 16x16x16": "tiled" }).store,
    });
    const loaded = await pipelinesOf(g, () => check({ m: 16, n: 16, k: 16, transA: true }, true));
    assert.deepEqual(loaded, ["gemm tiled"]);
    assert.deepEqual(pendingClasses(g), []);
  } finally {
    await setAutotune(g, { enabled: false });
  }
});

Deno.test("gemm rejects aliasing and undersized buffers with the op's name", () => {
  const g = gpu();
  const x = g.pool.acquire(1024);
  const y = g.pool.acquire(1024);
  try {
    assert.throws(
      () => gemm(g, x, y, x, { m: 4, n: 4, k: 4 }),
      /gemm\[4x4x4\]: the output C must not alias/,
    );
    assert.throws(() => gemm(g, x, y, y, { m: 4, n: 4, k: 4 }), GpuError);
    const z = g.pool.acquire(1024);
    try {
      assert.throws(
        () => gemm(g, x, y, z, { m: 20, n: 20, k: 20 }),
        /A holds 1024 bytes, needs 1600/,
      );
    } finally {
      g.pool.release(z);
    }
  } finally {
    g.pool.release(x);
    g.pool.release(y);
  }
});
