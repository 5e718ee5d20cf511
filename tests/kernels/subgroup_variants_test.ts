// The subgroup variants of sum, batchnorm and loss in Deno: run against the references
// where the adapter has the "subgroups" feature; where it lacks it (lavapipe), forcing them
// is an error that names the family, never a silent run of the other variant. Their full
// test on an adapter with subgroups is tests/browser/ (SwiftShader in Chromium).

import assert from "node:assert/strict";
import { compilesSubgroups, gpu } from "../../kernels/device.ts";
import { withTuning } from "../../kernels/tuning.ts";
import { gpuReady } from "../helpers.ts";
import { checkBatchNorm, checkLoss, checkSums } from "./family_checks.ts";

await gpuReady;

const on = {
  batchnorm: { subgroups: true },
  reduce: { subgroups: true },
  loss: { subgroups: true },
};

Deno.test("subgroup variants: the references where the adapter has subgroups, else a clear error", async () => {
  const g = gpu();
  if (g.profile.features.subgroups) {
    await withTuning(g, on, async () => {
      await checkSums(g, "subgroups");
      await checkBatchNorm(g, "subgroups");
      await checkLoss(g, "subgroups");
    });
    return;
  }
  for (
    const [family, f] of [["sum", checkSums], ["batchnorm", checkBatchNorm], [
      "loss",
      checkLoss,
    ]] as const
  ) {
    await withTuning(g, on, async () => {
      await assert.rejects(f(g), new RegExp(`${family}: the subgroup variant was requested`));
    });
  }
});

Deno.test("subgroups count only where the shader compiler takes `enable subgroups;`", async () => {
  const g = gpu();
  const compiles = await compilesSubgroups(g.device);
  // without the feature the extension must be refused; with it, the profile follows the probe
  if (!g.device.features.has("subgroups")) assert.equal(compiles, false);
  assert.equal(g.profile.features.subgroups, g.device.features.has("subgroups") && compiles);
});
