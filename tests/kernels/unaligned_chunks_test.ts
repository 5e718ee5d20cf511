// Chunked launches at the 256-byte storage offset alignment of the WebGPU default (and of
// most GPUs and headless Chromium): with a small binding limit, chunks start at offsets
// that are not multiples of 256 (e.g. 19 rows of 40 bytes), which offset bindings
// (kernel.ts) must handle. Compared with the plain-loop references, as unchunked runs are.

import assert from "node:assert/strict";
import { gpu } from "../../kernels/device.ts";
import { gpuReady } from "../helpers.ts";
import {
  BN_SMALL_IMAGE_CASES,
  checkBatchNorm,
  checkLoss,
  checkSums,
  limits,
  LOSS_CASES,
} from "./family_checks.ts";

await gpuReady;

Deno.test("sums in chunks starting off a 256-byte alignment", async () => {
  const g = gpu();
  const launches = g.counters.launches;
  await checkSums(g, "unchunked");
  const whole = g.counters.launches - launches;
  // 1000 bytes: rows of 37 floats chunk 5 at a time (740-byte steps), and a 5000-float
  // row is cut into pieces of 186 floats (744-byte steps)
  await limits(g, { storageAlign: 256, maxBindingBytes: 1000 }, async () => {
    const before = g.counters.launches;
    await checkSums(g, "align 256, 1000-byte bindings");
    assert.ok(g.counters.launches - before > whole, "the small limit split the launches");
  });
  assert.notEqual(g.maxBindingBytes, 1000, "the limit is restored");
});

Deno.test("batchnorm statistics, forward and backward in chunks off a 256-byte alignment", async () => {
  const g = gpu();
  const launches = g.counters.launches;
  await checkBatchNorm(g, "unchunked", BN_SMALL_IMAGE_CASES);
  const whole = g.counters.launches - launches;
  // 1024-byte bindings leave 768 bytes per chunk: 504-, 720- and 600-byte steps
  await limits(g, { storageAlign: 256, maxBindingBytes: 1024 }, async () => {
    const before = g.counters.launches;
    await checkBatchNorm(g, "align 256, 1024-byte bindings", BN_SMALL_IMAGE_CASES);
    assert.ok(g.counters.launches - before > whole, "the small limit split the launches");
  });
});

Deno.test("cross-entropy, log-sum-exp, softmax and argmax rows in chunks off a 256-byte alignment", async () => {
  const g = gpu();
  const narrow = LOSS_CASES.filter(([, classes]) => classes <= 10);
  const wide = LOSS_CASES.filter(([, classes]) => classes > 10);
  // rows of 10 logits: 19 per 1024-byte binding (760-byte steps, labels in 76-byte steps)
  await limits(g, { storageAlign: 256, maxBindingBytes: 1024 }, async () => {
    await checkLoss(g, "align 256, 1024-byte bindings", narrow);
  });
  // rows of 1000 logits: one per 4500-byte binding (4000-byte steps)
  await limits(g, { storageAlign: 256, maxBindingBytes: 4500 }, async () => {
    await checkLoss(g, "align 256, 4500-byte bindings", wide);
  });
});
