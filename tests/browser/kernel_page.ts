// The in-page side of the browser kernel tests: bundled by tests/browser/chromium.ts and run
// in headless Chromium (SwiftShader's WebGPU). It runs the same checks as the Deno tests
// (tests/kernels/family_checks.ts, plain-loop references) on the page's adapter, with the
// subgroup variants forced on and off, whole and in chunks at the adapter's own offset
// alignment, plus a GEMM and a conv forward, and returns a report instead of throwing.

import { initGpu } from "../../kernels/device.ts";
import { defineKernel } from "../../kernels/kernel.ts";
import { wgslHasSubgroupId } from "../../kernels/subgroup.ts";
import { GPU_TUNING, overrideTuning, SOFTWARE_TUNING, tuning } from "../../kernels/tuning.ts";
import {
  BN_SMALL_IMAGE_CASES,
  checkBatchNorm,
  checkConvForward,
  checkGemm,
  checkLoss,
  checkSums,
  limits,
  LOSS_CASES,
} from "../kernels/family_checks.ts";

export interface CheckResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface PageReport {
  adapter: Record<string, unknown>;
  results: CheckResult[];
}

// The subgroup sizes the adapter really runs compute shaders with (the adapter info gives
// only a range): one workgroup of 64 writes subgroup_size per invocation.
const SUBGROUP_SIZE = defineKernel({
  name: "subgroup size probe",
  key: () => "",
  bindings: [{ name: "out", type: "u32", access: "read_write" }],
  params: { n: "u32" },
  enables: () => ["subgroups"],
  body: () => /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_size) size: u32) {
  if (lid < p.n) { out[lid] = size; }
}`,
});

async function run(): Promise<PageReport> {
  const g = await initGpu();
  const results: CheckResult[] = [];
  const check = async (name: string, f: () => Promise<void> | void) => {
    const t0 = performance.now();
    try {
      await f();
      results.push({ name, ok: true, ms: performance.now() - t0 });
    } catch (e) {
      const error = e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e);
      results.push({ name, ok: false, ms: performance.now() - t0, error });
    }
  };
  const pr = g.profile;
  const adapter: Record<string, unknown> = {
    description: pr.description,
    vendor: pr.vendor,
    architecture: pr.architecture,
    kind: pr.kind,
    features: pr.features,
    subgroupMinSize: pr.subgroupMinSize,
    subgroupMaxSize: pr.subgroupMaxSize,
    minStorageBufferOffsetAlignment: g.storageAlign,
    maxComputeInvocationsPerWorkgroup: pr.limits.maxComputeInvocationsPerWorkgroup,
    wgslSubgroupId: wgslHasSubgroupId(),
    tuning: { batchnorm: tuning(g).batchnorm, reduce: tuning(g).reduce, loss: tuning(g).loss },
  };

  await check(
    "the adapter has subgroups, subgroup_id and a 256-byte offset alignment",
    async () => {
      if (!pr.features.subgroups) throw new Error("g.profile.features.subgroups is false");
      if (!wgslHasSubgroupId()) throw new Error("WGSL lacks the subgroup_id language feature");
      if (g.storageAlign !== 256) throw new Error(`storage offset alignment ${g.storageAlign}`);
      const out = g.pool.acquire(64 * 4, "subgroup sizes");
      SUBGROUP_SIZE.get(g, null).dispatch([out], { n: 64 }, [1]);
      const [bytes] = await g.read([{ buffer: out, size: 64 * 4 }]);
      g.pool.release(out);
      adapter.subgroupSizesSeen = [...new Set(new Uint32Array(bytes))];
    },
  );

  const narrow = LOSS_CASES.filter(([, classes]) => classes <= 10);
  const wide = LOSS_CASES.filter(([, classes]) => classes > 10);
  // subgroup variants combine subgroups by subgroup_id where WGSL has it ("ids") or by a
  // slot per invocation ("scan"); both run here
  const variants = [
    { name: "subgroups by id, software tiles", tiles: SOFTWARE_TUNING, subgroups: true, ids: true },
    { name: "subgroups by id, GPU tiles", tiles: GPU_TUNING, subgroups: true, ids: true },
    {
      name: "subgroups by scan, software tiles",
      tiles: SOFTWARE_TUNING,
      subgroups: true,
      ids: false,
    },
    { name: "subgroups by scan, GPU tiles", tiles: GPU_TUNING, subgroups: true, ids: false },
    { name: "no subgroups, software tiles", tiles: SOFTWARE_TUNING, subgroups: false, ids: false },
    { name: "no subgroups, GPU tiles", tiles: GPU_TUNING, subgroups: false, ids: false },
  ];
  for (const v of variants) {
    const f = { subgroups: v.subgroups, subgroupIds: v.ids };
    overrideTuning(g, {
      batchnorm: { ...v.tiles.batchnorm, ...f },
      reduce: { ...v.tiles.reduce, ...f },
      loss: { ...v.tiles.loss, ...f },
    });
    try {
      await check(`sums (${v.name})`, () => checkSums(g, v.name));
      await check(`batchnorm (${v.name})`, () => checkBatchNorm(g, v.name));
      await check(`loss rows (${v.name})`, () => checkLoss(g, v.name));
      // the adapter's own alignment (256) with small bindings: chunks start off it
      const chunked = `${v.name}, chunked at align ${g.storageAlign}`;
      await check(
        `sums (${chunked})`,
        () => limits(g, { maxBindingBytes: 1000 }, () => checkSums(g, chunked)),
      );
      await check(
        `batchnorm (${chunked})`,
        () =>
          limits(
            g,
            { maxBindingBytes: 1024 },
            () => checkBatchNorm(g, chunked, BN_SMALL_IMAGE_CASES),
          ),
      );
      await check(`loss rows (${chunked})`, async () => {
        await limits(g, { maxBindingBytes: 1024 }, () => checkLoss(g, chunked, narrow));
        await limits(g, { maxBindingBytes: 4500 }, () => checkLoss(g, chunked, wide));
      });
    } finally {
      overrideTuning(g, null);
    }
  }
  await check("gemm 37x29x53 + bias", () => checkGemm(g, "page"));
  await check("conv2d forward 3x3 stride 2 pad 1", () => checkConvForward(g, "page"));
  return { adapter, results };
}

(globalThis as { runKernelChecks?: () => Promise<PageReport> }).runKernelChecks = run;
