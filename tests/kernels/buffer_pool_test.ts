// The buffer pool on its own: size buckets, reuse, the statistics and peak, double release,
// and the upload hazard (a buffer that an unsubmitted launch used is not handed out for an
// upload until the pending work is submitted).

import assert from "node:assert/strict";
import { BufferPool } from "../../kernels/buffer_pool.ts";
import { gpu } from "../../kernels/device.ts";
import { gpuReady } from "../helpers.ts";

await gpuReady;

function testPool() {
  const state = { epoch: 1, submits: 0 };
  const pool = new BufferPool(gpu().device, () => state.epoch, () => {
    state.submits++;
    state.epoch++; // submitting starts a new epoch: earlier uses are now submitted
  });
  return { pool, state };
}

Deno.test("pool: sizes round up to 256 bytes, a released buffer is reused for its bucket", () => {
  const { pool } = testPool();
  const a = pool.acquire(1000);
  assert.equal(a.size, 1024);
  assert.equal(pool.acquire(1).size, 256);
  pool.release(a);
  assert.equal(pool.acquire(900), a, "same bucket: the free buffer comes back");
  const b = pool.acquire(1025);
  assert.notEqual(b, a);
  assert.equal(b.size, 1280);
  pool.trim();
});

Deno.test("pool: statistics, the peak and resetPeak", () => {
  const { pool } = testPool();
  const a = pool.acquire(256), b = pool.acquire(512);
  assert.deepEqual(pool.stats(), {
    liveBuffers: 2,
    liveBytes: 768,
    freeBuffers: 0,
    freeBytes: 0,
    peakBytes: 768,
  });
  pool.release(a);
  pool.release(b);
  assert.deepEqual(pool.stats(), {
    liveBuffers: 0,
    liveBytes: 0,
    freeBuffers: 2,
    freeBytes: 768,
    peakBytes: 768,
  });
  // reuse keeps the peak flat: what a training step's repeated shapes rely on
  for (let i = 0; i < 5; i++) pool.release(pool.acquire(512));
  assert.equal(pool.stats().peakBytes, 768);
  pool.trim();
  assert.equal(pool.stats().freeBytes, 0);
  pool.resetPeak();
  assert.equal(pool.stats().peakBytes, 0);
});

Deno.test("pool: releasing a buffer twice throws", () => {
  const { pool } = testPool();
  const a = pool.acquire(256);
  pool.release(a);
  assert.throws(() => pool.release(a), /BufferPool.release: buffer is not live/);
  pool.trim();
});

Deno.test("pool: an upload never gets a buffer an unsubmitted launch still reads", () => {
  const { pool, state } = testPool();
  const used = pool.acquire(256), fresh = pool.acquire(256);
  pool.markUsed(used); // bound by a launch of the current (unsubmitted) epoch
  pool.release(used);
  pool.release(fresh); // never bound: free for uploads
  assert.equal(pool.acquireUnused(256), fresh, "the never-used buffer is taken");
  assert.equal(state.submits, 0);
  // only the used one is left: taking it for an upload submits the pending work first
  assert.equal(pool.acquireUnused(256), used);
  assert.equal(state.submits, 1);
  // a plain acquire (written by launches, ordered after them) takes a used buffer at once
  const again = pool.acquire(512);
  pool.markUsed(again);
  pool.release(again);
  assert.equal(pool.acquire(512), again);
  assert.equal(state.submits, 1);
  pool.trim();
});
