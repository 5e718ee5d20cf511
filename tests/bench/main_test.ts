import assert from "node:assert/strict";
import { runBenchmarks } from "../../bench/main.ts";
import { WallClockHarness } from "../../bench/timing.ts";
import { gpu } from "../../kernels/device.ts";
import { gpuReady } from "../helpers.ts";

await gpuReady;

Deno.test("bench: the quick GEMM run prints the adapter, the ceilings and rated rows", async () => {
  const lines: string[] = [];
  const rows = await runBenchmarks({ quick: true, only: ["gemm"], log: (l) => lines.push(l) });
  assert.match(lines[0], /^adapter: /);
  for (const op of ["peak fma", "gemm (ceiling)", "copy (ceiling)", "gemm A·B"]) {
    assert.ok(rows.some((r) => r.op === op), `a '${op}' row`);
  }
  for (const r of rows) {
    assert.ok(r.ms > 0 && Number.isFinite(r.ms), `${r.op} ${r.shape}: ${r.ms} ms`);
  }
  const gemmLine = lines.find((l) => l.startsWith("gemm A·B") && l.includes("256x256x256"));
  assert.match(gemmLine ?? "", /GFLOP\/s +\d+\.\d%/, "rate and % of peak");
  await assert.rejects(
    runBenchmarks({ quick: true, only: ["nope"], log: () => {} }),
    /unknown family nope/,
  );
});

Deno.test("bench: an empty call times near zero once the round trip is removed", async () => {
  const h = new WallClockHarness(gpu(), { quick: true });
  const rt = await h.roundTripMs();
  assert.ok(rt >= 0);
  const nothing = await h.time(() => {}, { perBatch: 4, repeats: 3 });
  assert.ok(nothing < Math.max(2, rt), `an empty call costs ${nothing} ms`);
});
