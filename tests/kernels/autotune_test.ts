// Measured selection: choose() answers the table's default until a class is measured,
// tune() times the candidates with the replay it was given and remembers the fastest, and
// the CLI's file store keeps winners per adapter across runs.

import assert from "node:assert/strict";
import { gpu } from "../../kernels/device.ts";
import {
  choose,
  pendingClasses,
  setAutotune,
  tune,
  tuningResults,
  type TuningStore,
} from "../../kernels/autotune.ts";
import { add } from "../../kernels/elementwise.ts";
import { autotuneWanted, fileTuningStore } from "../../cli/autotune.ts";
import { gpuReady } from "../helpers.ts";

await gpuReady;

function memoryStore(): TuningStore & { saved: Record<string, Record<string, string>> } {
  const saved: Record<string, Record<string, string>> = {};
  return {
    saved,
    load: (id) => Promise.resolve({ ...saved[id] }),
    save: (id, winners) => {
      saved[id] = { ...winners };
      return Promise.resolve();
    },
  };
}

Deno.test("autotune: the measured winner replaces the default, and is remembered", async () => {
  const g = gpu();
  const n = 1 << 18;
  const a = g.pool.acquire(n * 4), b = g.pool.acquire(n * 4), c = g.pool.acquire(n * 4);
  // "slow" does forty times the work of "fast"
  const replay = (v: string) => {
    for (let i = 0; i < (v === "slow" ? 40 : 1); i++) add(g, a, b, c, n);
  };
  const store = memoryStore();
  try {
    await setAutotune(g, { enabled: true, store });
    assert.equal(choose(g, "test", "n=256k", ["slow", "fast"], "slow", replay), "slow");
    assert.deepEqual(pendingClasses(g), ["test n=256k"]);
    assert.equal(await tune(g, 3), 1);
    assert.equal(choose(g, "test", "n=256k", ["slow", "fast"], "slow", replay), "fast");
    const { timings } = tuningResults(g);
    assert.ok(timings["test n=256k"].slow > timings["test n=256k"].fast, "timed both");
    assert.deepEqual(store.saved[g.profile.id], { "test n=256k": "fast" });
    // a new session loads the winner without measuring
    await setAutotune(g, { enabled: true, store });
    assert.equal(choose(g, "test", "n=256k", ["slow", "fast"], "slow", replay), "fast");
    assert.deepEqual(pendingClasses(g), []);
    // off: the default, nothing queued
    await setAutotune(g, { enabled: false });
    assert.equal(choose(g, "test", "n=256k", ["slow", "fast"], "slow", replay), "slow");
    assert.deepEqual(pendingClasses(g), []);
  } finally {
    await setAutotune(g, { enabled: false });
    for (const x of [a, b, c]) g.pool.release(x);
  }
});

Deno.test("autotune: the file store keeps adapters apart, survives damage, writes atomically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/sub/tuning.json`;
    const store = fileTuningStore(path);
    assert.deepEqual(await store.load("x"), {});
    await store.save("x", { "gemm nn 64x64x64": "tiled" });
    await store.save("y", { "gemm nn 64x64x64": "registers" });
    assert.deepEqual(await store.load("x"), { "gemm nn 64x64x64": "tiled" });
    assert.deepEqual(await store.load("y"), { "gemm nn 64x64x64": "registers" });
    assert.deepEqual([...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name), ["tuning.json"]);
    await Deno.writeTextFile(path, "{ not json");
    assert.deepEqual(await store.load("x"), {}, "a damaged cache is measured again");
    await store.save("x", { a: "b" });
    assert.deepEqual(await store.load("x"), { a: "b" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("autotune: WEBGPU_RESNET_AUTOTUNE=0 or a flag turns it off", () => {
  const before = Deno.env.get("WEBGPU_RESNET_AUTOTUNE");
  try {
    Deno.env.set("WEBGPU_RESNET_AUTOTUNE", "0");
    assert.equal(autotuneWanted(), false);
    Deno.env.set("WEBGPU_RESNET_AUTOTUNE", "1");
    assert.equal(autotuneWanted(), true);
    assert.equal(autotuneWanted(false), false);
  } finally {
    if (before === undefined) Deno.env.delete("WEBGPU_RESNET_AUTOTUNE");
    else Deno.env.set("WEBGPU_RESNET_AUTOTUNE", before);
  }
});
