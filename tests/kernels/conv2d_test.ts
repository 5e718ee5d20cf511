import assert from "node:assert/strict";
import {
  conv2dBiasGrad,
  conv2dForward,
  type Conv2dGeometry,
  conv2dInputGrad,
  conv2dWeightGrad,
  CONV_VARIANTS,
  describeConv,
} from "../../kernels/conv2d/mod.ts";
import { gpu } from "../../kernels/device.ts";
import { pendingClasses, setAutotune, tune, tuningResults } from "../../kernels/autotune.ts";
import {
  type ConvVariant,
  GPU_TUNING,
  overrideTuning,
  SOFTWARE_TUNING,
  type TuningOverride,
} from "../../kernels/tuning.ts";
import { Scope, Tensor } from "../../nn/tensor.ts";
import { assertClose, gpuReady, randomArray } from "../helpers.ts";
import {
  conv2dBiasGradRef,
  conv2dInputGradRef,
  conv2dRef,
  conv2dWeightGradRef,
  geometry,
  outSize,
} from "./conv2d_reference.ts";

await gpuReady;

// Tolerance for an f32 sum of `terms` products of values in [-1, 1]: the rounding error
// grows like sqrt(terms) * 6e-8 * |partial sums| (at most ~sqrt(terms)), so 1e-6 * terms
// is a generous bound that an indexing mistake (errors of order 1) cannot meet.
const tol = (terms: number) => ({ atol: 1e-5 + 1e-6 * terms, rtol: 1e-5 });

/** Runs the four kernels on random data and compares each with the loop reference. */
async function checkAll(s: Conv2dGeometry, seed: number, withBias = true): Promise<void> {
  using _ = new Scope();
  const g = gpu();
  const [oh, ow] = outSize(s);
  const x = randomArray(s.n * s.c * s.h * s.w, seed);
  const w = randomArray(s.o * s.c * s.kh * s.kw, seed + 1);
  const b = randomArray(s.o, seed + 2);
  const dy = randomArray(s.n * s.o * oh * ow, seed + 3);
  const [tx, tw, tb, tdy] = [x, w, b, dy].map((a) => Tensor.fromArray(a));
  const y = Tensor.empty([s.n, s.o, oh, ow]);
  const dx = Tensor.empty([s.n, s.c, s.h, s.w]);
  const dw = Tensor.empty([s.o, s.c, s.kh, s.kw]);
  const db = Tensor.empty([s.o]);
  conv2dForward(g, tx.buffer, tw.buffer, tb.buffer, y.buffer, s);
  conv2dInputGrad(g, tdy.buffer, tw.buffer, dx.buffer, s);
  conv2dWeightGrad(g, tx.buffer, tdy.buffer, dw.buffer, s);
  if (withBias) conv2dBiasGrad(g, tdy.buffer, db.buffer, s);
  const name = describeConv(s);
  const k = s.c * s.kh * s.kw;
  assertClose(await y.toArray(), conv2dRef(x, w, b, s), { ...tol(k), what: `forward ${name}` });
  assertClose(await dx.toArray(), conv2dInputGradRef(dy, w, s), {
    ...tol(s.o * s.kh * s.kw),
    what: `input gradient ${name}`,
  });
  assertClose(await dw.toArray(), conv2dWeightGradRef(x, dy, s), {
    ...tol(s.n * oh * ow),
    what: `weight gradient ${name}`,
  });
  if (!withBias) return;
  assertClose(await db.toArray(), conv2dBiasGradRef(dy, s), {
    ...tol(s.n * oh * ow),
    what: `bias gradient ${name}`,
  });
}

const CASES: [string, Conv2dGeometry][] = [
  ["1x1 stride 1", geometry(2, 5, 6, 7, 17, 1, 1, 0)],
  ["1x1 stride 2 (downsample)", geometry(2, 17, 7, 9, 5, 1, 2, 0)],
  ["3x3 pad 1 stride 1, batch 1, odd 5x7", geometry(1, 3, 5, 7, 17, 3, 1, 1)],
  ["3x3 pad 1 stride 2", geometry(3, 5, 9, 8, 33, 3, 2, 1)],
  ["7x7 pad 3 stride 2 (stem)", geometry(1, 3, 19, 17, 8, 7, 2, 3)],
  ["3x3 pad 0", geometry(2, 4, 8, 6, 6, 3, 1, 0)],
  ["non-square kernel, stride and padding", geometry(2, 3, 9, 11, 5, [3, 5], [2, 1], [1, 2])],
  ["kernel smaller than the stride (pixels no tap reaches)", geometry(2, 3, 10, 11, 4, 2, 3, 0)],
  ["ResNet18 3x3 64->64 stride 1", geometry(2, 64, 8, 8, 64, 3, 1, 1)],
  ["ResNet18 3x3 64->128 stride 2", geometry(1, 64, 8, 8, 128, 3, 2, 1)],
  ["ResNet18 1x1 64->128 stride 2", geometry(2, 64, 8, 8, 128, 1, 2, 0)],
  ["ResNet18 stem 3->64 7x7 stride 2", geometry(1, 3, 32, 32, 64, 7, 2, 3)],
  // small planes: taps that read only padding are dropped or split into border regions
  ["3x3 pad 1 on a 1x1 input (only the centre tap)", geometry(2, 8, 1, 1, 12, 3, 1, 1)],
  ["3x3 pad 1 on a 2x2 input", geometry(2, 6, 2, 2, 10, 3, 1, 1)],
  ["3x3 pad 1 stride 2 on a 2x2 input, 36 channels", geometry(3, 8, 2, 2, 36, 3, 2, 1)],
  ["3x3 pad 1 on a 4x3 input", geometry(2, 5, 4, 3, 7, 3, 1, 1)],
  ["1x1 pad 1 (border outputs see only padding)", geometry(2, 4, 3, 5, 8, 1, 1, 1)],
  ["padding wider than the kernel", geometry(1, 3, 4, 5, 5, [3, 2], 2, [3, 2])],
  // 1x1 kernels read the OIHW weight directly; 36 channels: a shifted last channel block
  ["1x1 stride 2, 36 input channels", geometry(2, 36, 5, 3, 7, 1, 2, 0)],
  ["1x1 stride 2, 36 output channels", geometry(2, 8, 5, 3, 36, 1, 2, 0)],
  ["1x1 stride 1, 64 input channels, batch 1", geometry(1, 64, 3, 3, 5, 1, 1, 0)],
  // 1x1 stride 2 on even inputs: the input gradient writes the unreached pixels' zeros itself
  ["1x1 stride 2, even input, odd half width, batch 1", geometry(1, 12, 6, 10, 8, 1, 2, 0)],
  ["1x1 stride 2, even input, 36 input channels", geometry(2, 36, 6, 6, 8, 1, 2, 0)],
  // vec4 stores: whole planes of a multiple of 4 (rows of 6), rows of a multiple of 4
  ["1x1 stride 1, 2x6 plane", geometry(2, 8, 2, 6, 12, 1, 1, 0)],
  ["3x3 pad 1, 8 wide, batch 1", geometry(1, 5, 3, 8, 6, 3, 1, 1)],
  // weight gradient: taps that read only padding get zeros without being computed
  ["3x3 pad 1 stride 2 on a 2x2 input, batch 1", geometry(1, 7, 2, 2, 9, 3, 2, 1)],
  ["3x3 pad 1 on a 1x5 input (only the centre row)", geometry(2, 3, 1, 5, 5, 3, 1, 1)],
  ["every tap of some positions reads only padding", geometry(2, 3, 1, 1, 4, 2, 5, 3)],
  // weight gradient with one output position: dy [n][o] is read as it is (o % 4 == 0)
  ["1x1 stride 2 on a 2x2 input, 36 output channels", geometry(3, 8, 2, 2, 36, 1, 2, 0)],
  ["1x1 stride 2 on a 2x2 input, batch 1", geometry(1, 12, 2, 2, 8, 1, 2, 0)],
  ["one output position, 6 output channels (blocked copy)", geometry(2, 8, 2, 2, 6, 1, 2, 0)],
  [
    "3x3 stride 2 on a 2x2 input, one output position, 40 channels",
    geometry(2, 8, 2, 2, 40, 3, 2, 1),
  ],
  // weight gradient vec4 stores (every tap used, columns a multiple of 4), odd column blocks
  ["1x1 stride 1, 12 -> 20 channels, odd plane", geometry(2, 12, 3, 5, 20, 1, 1, 0)],
  // few input channels: odd planes, strides 3, batch 1
  ["4 input channels, 5x5 stride 3 pad 2", geometry(3, 4, 11, 10, 6, 5, 3, 2)],
  ["1 input channel, 7x7 stride 2 pad 3, 36 outputs", geometry(1, 1, 13, 9, 36, 7, 2, 3)],
];

for (const [name, s] of CASES) {
  Deno.test(`conv2d kernels match loops: ${name}`, () => checkAll(s, 11));
}

// the same shapes through the implicit GEMM on workgroup-memory tiles (the GPU strategy)
for (const [name, s] of CASES) {
  Deno.test(`conv2d implicit gemm matches loops: ${name}`, () =>
    withConv({ variant: "implicit-gemm" }, () => checkAll(s, 12)));
}

Deno.test("conv2d kernels with other tiles and a split weight-gradient reduction", async () => {
  const g = gpu();
  // small odd workgroups and channel blocks, every launch split into border regions, and a
  // reduction split into many short ranges (split-K pass)
  const before = overrideTuning(g, {
    conv: {
      gather: { wg: 3, bm: 8 },
      launchMacs: 0,
      weight: { wg: 5, bm: 4 },
      minGroups: 10_000,
      minSpan: 7,
    },
  });
  try {
    await checkAll(geometry(3, 5, 9, 8, 13, 3, 2, 1), 21);
    await checkAll(geometry(2, 6, 7, 7, 9, 1, 1, 0), 22);
    await checkAll(geometry(2, 7, 4, 4, 6, 3, 1, 1), 23);
    await checkAll(geometry(2, 12, 3, 2, 8, 3, 1, 2), 24); // regions without any tap
    await checkAll(geometry(2, 12, 3, 3, 5, 1, 2, 0), 25); // direct 1x1, shifted last block
    await checkAll(geometry(2, 8, 3, 3, 13, 1, 1, 1), 26); // the same forward, with padding
    await checkAll(geometry(2, 9, 1, 1, 6, 3, 1, 1), 27); // split weight gradient, centre tap only
    await checkAll(geometry(1, 3, 19, 17, 8, 7, 2, 3), 29); // the stem's shape
    await checkAll(geometry(2, 3, 9, 11, 5, [3, 5], [2, 1], [1, 2]), 30);
    await checkAll(geometry(16, 8, 1, 1, 12, 1, 1, 0), 28); // split, dy read as it is, vec4 stores
  } finally {
    overrideTuning(g, before);
  }
});

/**
 * Runs `f` with the binding limit lowered to `limit` bytes (so tensors are split into chunks
 * of images) and, when given, the storage offset alignment raised to `align` (so chunks start
 * between aligned offsets, as on adapters with the WebGPU default of 256), then restores both.
 */
async function withLimits(limit: number, align: number | null, f: () => Promise<void>) {
  const g = gpu();
  const [bindingBytes, storageAlign] = [g.maxBindingBytes, g.storageAlign];
  g.maxBindingBytes = limit;
  if (align !== null) g.storageAlign = Math.max(align, storageAlign);
  try {
    await f();
  } finally {
    g.maxBindingBytes = bindingBytes;
    g.storageAlign = storageAlign;
  }
}

/** Runs `f` with the conv tuning's fields `o` overridden too, then restores the override. */
async function withConv(o: TuningOverride["conv"], f: () => Promise<void>) {
  const g = gpu();
  const before = overrideTuning(g, null);
  overrideTuning(g, { ...before, conv: { ...before?.conv, ...o } });
  try {
    await f();
  } finally {
    overrideTuning(g, before);
  }
}

async function checkChunks(): Promise<void> {
  // input 4 KiB and output 8 KiB per image against a 16 KiB limit: chunks of 2 images
  await withLimits(16384, null, async () => {
    await checkAll(geometry(5, 4, 16, 16, 8, 3, 1, 1), 31);
    await checkAll(geometry(5, 4, 16, 16, 8, 1, 2, 0), 33); // pixels no tap reaches, filled with 0
    await checkAll(geometry(5, 32, 8, 8, 4, 1, 1, 0), 35); // direct 1x1 input gradient
    await checkAll(geometry(5, 32, 6, 10, 4, 1, 2, 0), 36); // zeros written by the gather
    await checkAll(geometry(5, 3, 16, 16, 8, 7, 2, 3), 39); // the stem's kernel
    await checkAll(geometry(2, 3, 6, 6, 4, 3, 2, 1), 40);
    // chunks and a split reduction in each chunk (partials summed across chunks)
    await withConv({ minGroups: 10_000, minSpan: 50 }, async () => {
      await checkAll(geometry(5, 4, 16, 16, 8, 3, 1, 1), 32);
      await checkAll(geometry(5, 36, 1, 40, 4, 3, 1, 1), 37); // tap window summed across chunks
      await checkAll(geometry(5, 16, 12, 12, 8, 1, 13, 0), 38); // one output position per image
    });
    // border regions in every chunk
    await withConv({ launchMacs: 0 }, () => checkAll(geometry(5, 4, 16, 16, 8, 3, 1, 1), 34));
  });
}

Deno.test("conv2d kernels give the same numbers when tensors are split into batch chunks", () =>
  checkChunks());

Deno.test("conv2d implicit gemm gives the same numbers when tensors are split into batch chunks", () =>
  withConv({ variant: "implicit-gemm" }, checkChunks));

/**
 * Chunks that start at offsets which are not multiples of 256 bytes, with a 256-byte offset
 * alignment: each case's per-image sizes are odd multiples of 4, 8 or 16 bytes.
 */
async function checkUnaligned(): Promise<void> {
  // 3x3 pad 1: x 756 B and y 1260 B per image, 2 images per chunk
  await withLimits(3000, 256, () => checkAll(geometry(5, 3, 7, 9, 5, 3, 1, 1), 51, false));
  // vec4 stores: y 1920 B per image (a multiple of 16, not of 256)
  await withLimits(3000, 256, () => checkAll(geometry(5, 4, 6, 10, 8, 3, 1, 1), 52, false));
  // 1x1 stride 2 on an even input: dx written as vec2 pairs, 1920 B per image
  await withLimits(3000, 256, () => checkAll(geometry(5, 8, 6, 10, 4, 1, 2, 0), 53, false));
  // direct 1x1 forward and input gradient (vec4 weight runs), x 720 B per image
  await withLimits(3000, 256, () => checkAll(geometry(5, 20, 3, 3, 24, 1, 1, 0), 54, false));
  // one output position per image: the weight gradient reads dy [n][o] as vec4 runs
  await withLimits(600, 256, () => checkAll(geometry(5, 4, 3, 3, 8, 1, 5, 0), 55, false));
  // split reductions per chunk, the partials summed across chunks
  await withConv(
    { minGroups: 10_000, minSpan: 20 },
    () => withLimits(3000, 256, () => checkAll(geometry(5, 3, 7, 9, 5, 3, 1, 1), 56, false)),
  );
}

Deno.test("conv2d kernels are right when chunks start between 256-byte aligned offsets", () =>
  checkUnaligned());

Deno.test("conv2d implicit gemm is right when chunks start between 256-byte aligned offsets", () =>
  withConv({ variant: "implicit-gemm" }, checkUnaligned));

Deno.test("conv2d implicit gemm splits a batch whose columns exceed one grid dimension", async () => {
  using _ = new Scope();
  const g = gpu();
  const grid = g as unknown as { maxWorkgroupsPerDim: number }; // readonly outside tests
  const s = geometry(5, 4, 8, 8, 8, 3, 1, 1); // 64 positions per image
  const [oh, ow] = outSize(s);
  const x = randomArray(s.n * s.c * s.h * s.w, 81);
  const w = randomArray(s.o * s.c * s.kh * s.kw, 82);
  const dy = randomArray(s.n * s.o * oh * ow, 83);
  const [tx, tw, tdy] = [x, w, dy].map((a) => Tensor.fromArray(a));
  const y = Tensor.empty([s.n, s.o, oh, ow]);
  const dx = Tensor.empty([s.n, s.c, s.h, s.w]);
  const limit = grid.maxWorkgroupsPerDim;
  // 32-column tiles: 2 column blocks per image, at most 5 in a grid dimension -> runs of 2
  grid.maxWorkgroupsPerDim = 5;
  try {
    await withConv({ tiled: { bm: 32, bn: 32, bk: 16, tm: 4, tn: 4 } }, async () => {
      conv2dForward(g, tx.buffer, tw.buffer, null, y.buffer, s, "implicit-gemm");
      conv2dInputGrad(g, tdy.buffer, tw.buffer, dx.buffer, s, "implicit-gemm");
      await g.sync();
    });
  } finally {
    grid.maxWorkgroupsPerDim = limit;
  }
  const k = s.c * s.kh * s.kw;
  assertClose(await y.toArray(), conv2dRef(x, w, null, s), { ...tol(k), what: "forward" });
  assertClose(await dx.toArray(), conv2dInputGradRef(dy, w, s), {
    ...tol(s.o * s.kh * s.kw),
    what: "input gradient",
  });
});

Deno.test("conv2d implicit gemm with other tiles and a split weight-gradient reduction", async () => {
  const shapes: [Conv2dGeometry, number][] = [
    [geometry(3, 5, 9, 8, 13, 3, 2, 1), 61],
    [geometry(2, 6, 7, 7, 9, 1, 1, 0), 62],
    [geometry(1, 3, 19, 17, 8, 7, 2, 3), 63], // the stem's kernel
    [geometry(2, 3, 9, 11, 5, [3, 5], [2, 1], [1, 2]), 64],
    [geometry(2, 3, 10, 11, 4, 2, 3, 0), 65], // pixels no tap reaches
    [geometry(2, 9, 1, 1, 6, 3, 1, 1), 66], // a 1x1 input: only the centre tap reads pixels
  ];
  const tileSets = [
    // the GPU table's tiles: 256 invocations, 8 KiB of workgroup memory
    { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
    // rectangular register blocks, a reduction step that leaves remainders everywhere
    { bm: 16, bn: 32, bk: 4, tm: 4, tn: 8 },
    { bm: 32, bn: 16, bk: 12, tm: 8, tn: 4 },
  ];
  for (const tiled of tileSets) {
    // and the weight gradient's reduction split into many short ranges (split-K pass)
    await withConv({ variant: "implicit-gemm", tiled, minGroups: 10_000, minSpan: 7 }, async () => {
      for (const [s, seed] of shapes) await checkAll(s, seed);
    });
  }
});

Deno.test("conv2d kernels with the GPU table's conv tuning, both strategies", async () => {
  for (const variant of CONV_VARIANTS) {
    await withConv({ ...GPU_TUNING.conv, variant }, async () => {
      await checkAll(geometry(2, 5, 9, 8, 13, 3, 2, 1), 91);
      await checkAll(geometry(1, 3, 19, 17, 70, 7, 2, 3), 92); // the stem's kernel
      await checkAll(geometry(3, 36, 4, 4, 40, 1, 2, 0), 93);
      await checkAll(geometry(4, 20, 2, 2, 24, 3, 1, 1), 94);
    });
  }
});

Deno.test("conv2d implicit gemm refuses tiles that do not fit its layout or the limits", () => {
  const g = gpu();
  for (
    const tiled of [{ bm: 128, bn: 128, bk: 16, tm: 4, tn: 4 }, {
      bm: 64,
      bn: 64,
      bk: 48,
      tm: 8,
      tn: 8,
    }]
  ) {
    assert.throws(
      () => overrideTuning(g, { conv: { variant: "implicit-gemm", tiled } }),
      /256 invocations|16 KiB/,
    );
  }
  // both tables' tiles pass the same check
  for (const conv of [SOFTWARE_TUNING.conv, GPU_TUNING.conv]) overrideTuning(g, { conv });
  overrideTuning(g, null);
});

Deno.test("conv2d autotuning times both strategies per direction and keeps the winner", async () => {
  const g = gpu();
  const s = geometry(2, 5, 6, 7, 9, 3, 1, 1);
  await setAutotune(g, { enabled: true });
  try {
    await checkAll(s, 71); // queues each direction's shape class with its replay
    const queued = pendingClasses(g).filter((c) => c.startsWith("conv2d"));
    assert.deepEqual(queued.sort(), [
      `conv2d forward ${describeConv(s)}`,
      `conv2d input gradient ${describeConv(s)}`,
      `conv2d weight gradient ${describeConv(s)}`,
    ]);
    assert.ok((await tune(g, 1)) >= 3);
    const { winners, timings } = tuningResults(g);
    for (const c of queued) {
      assert.ok(CONV_VARIANTS.includes(winners[c] as ConvVariant), `${c}: ${winners[c]}`);
      assert.deepEqual(Object.keys(timings[c]).sort(), [...CONV_VARIANTS].sort());
    }
    await checkAll(s, 72); // now with the winners
  } finally {
    await setAutotune(g, { enabled: false });
  }
});

Deno.test("conv2d refuses groups other than 1, naming the shape", () => {
  const g = gpu();
  using _ = new Scope();
  const t = Tensor.zeros([256]);
  assert.throws(
    () =>
      conv2dForward(g, t.buffer, t.buffer, null, t.buffer, {
        ...geometry(1, 4, 4, 4, 4, 3, 1, 1),
        groups: 2,
      }),
    /conv2d N1 C4->4 4x4 k3 s1 p1 g2: groups = 2 is not implemented/,
  );
});

Deno.test("conv2d rejects a kernel larger than the padded input", () => {
  const g = gpu();
  using _ = new Scope();
  const t = Tensor.zeros([64]);
  assert.throws(
    () => conv2dForward(g, t.buffer, t.buffer, null, t.buffer, geometry(1, 1, 2, 2, 1, 5, 1, 1)),
    /conv2d: a 5x5 kernel does not fit a 2x2 input/,
  );
});
