// The ceiling the benchmark table is measured against: a microkernel that does nothing but
// independent vec4 FMAs in registers (no memory traffic in the loop), on the same adapter in
// the same run, so "% of ceiling" survives a busy or slow machine.

import type { Gpu } from "../kernels/device.ts";
import { defineKernel } from "../kernels/kernel.ts";
import type { BenchRow, Harness } from "./harness.ts";

const CHAINS = 16; // independent accumulators per invocation: hides FMA latency
const ITERATIONS = 2048;

const PEAK = defineKernel({
  name: "peak fma",
  key: (workgroup: number) => `${workgroup}`,
  bindings: [{ name: "out", type: "vec4f", access: "read_write" }],
  params: { iterations: "u32", scale: "f32" },
  body: (workgroup) => {
    const vars = Array.from(
      { length: CHAINS },
      (_, i) => `var v${i} = vec4f(f32(gid.x) * 1e-9 + ${i}.0 * 1e-3);`,
    );
    const fmas = Array.from({ length: CHAINS }, (_, i) => `v${i} = fma(v${i}, m, c);`);
    const total = Array.from({ length: CHAINS }, (_, i) => `v${i}`).join(" + ");
    return /* wgsl */ `
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let m = vec4f(p.scale);
  let c = vec4f(1e-7);
  ${vars.join("\n  ")}
  for (var i = 0u; i < p.iterations; i++) {
    ${fmas.join("\n    ")}
  }
  out[gid.x] = ${total};
}`;
  },
});

/** Times the FMA microkernel; its row's flops/ms is the ceiling in GFLOP/s. */
export async function benchPeak(h: Harness): Promise<BenchRow> {
  const g: Gpu = h.gpu;
  const workgroup = g.profile.software ? 8 : 256;
  // enough workgroups to fill every core or SM several times over
  const groups = g.profile.software ? 256 : 4096;
  const iterations = h.quick ? ITERATIONS / 4 : ITERATIONS;
  const kernel = PEAK.get(g, workgroup);
  const out = g.pool.acquire(groups * workgroup * 16, "peak fma out");
  try {
    const ms = await h.time(() =>
      kernel.dispatch([out], { iterations, scale: 0.999 }, [groups], "peak fma")
    );
    return {
      op: "peak fma",
      shape: `${groups * workgroup} inv x ${iterations} x ${CHAINS} vec4`,
      ms,
      flops: groups * workgroup * iterations * CHAINS * 4 * 2,
    };
  } finally {
    g.pool.release(out);
  }
}
