// The kernel checks of tests/kernels/family_checks.ts in headless Chromium (SwiftShader's
// WebGPU): the subgroup variants, which lavapipe cannot run, and chunked launches at that
// adapter's own 256-byte offset alignment (see kernel_page.ts for the list). Skipped, with
// the reason printed, where chromium or playwright-core is missing.

import { browserUnavailable, runInPage } from "./chromium.ts";
import type { PageReport } from "./kernel_page.ts";

const unavailable = await browserUnavailable();
if (unavailable) {
  console.warn(`\n!!! SKIPPING the browser kernel tests: ${unavailable}\n`);
}

Deno.test({
  name: "kernels in headless Chromium: subgroup variants, 256-byte alignment, GEMM, conv",
  ignore: unavailable !== null,
  // playwright keeps pipes and timers of its own around the browser process
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const logs: string[] = [];
    const report = await runInPage<PageReport>(new URL("./kernel_page.ts", import.meta.url), {
      global: "runKernelChecks",
      call: "globalThis.runKernelChecks()",
      log: (line) => logs.push(line),
    });
    const a = report.adapter;
    console.log(
      `adapter: ${a.vendor} / ${a.architecture} (${a.kind}), features ${
        JSON.stringify(a.features)
      }`,
    );
    console.log(
      `subgroup sizes: adapter ${a.subgroupMinSize}..${a.subgroupMaxSize}, seen ` +
        JSON.stringify(a.subgroupSizesSeen) + `; WGSL subgroup_id: ${a.wgslSubgroupId}; ` +
        `offset alignment ${a.minStorageBufferOffsetAlignment}`,
    );
    for (const r of report.results) {
      console.log(`  ${r.ok ? "ok  " : "FAIL"} ${r.name} (${r.ms.toFixed(0)} ms)`);
    }
    const failed = report.results.filter((r) => !r.ok);
    console.log(
      `${report.results.length - failed.length} of ${report.results.length} passed in the page`,
    );
    if (failed.length) {
      for (const l of logs) console.log(l);
      throw new Error(
        `${failed.length} check(s) failed in Chromium:\n` +
          failed.map((r) => `${r.name}: ${r.error}`).join("\n\n"),
      );
    }
  },
});
