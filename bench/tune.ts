// `bench --tune`: measures the kernel variants of ResNet18 training steps on this adapter
// ahead of time (the winners go to the tuning file that `train` reads), and prints the step
// time with the tuning table's hand choice next to the tuned one.

import type { Gpu } from "../kernels/device.ts";
import { setAutotune, tuningResults } from "../kernels/autotune.ts";
import { enableAutotune, tuningFile } from "../cli/autotune.ts";
import { tuneResnetStep } from "../train/autotune.ts";
import { measure } from "./train_step.ts";
import { WallClockHarness } from "./timing.ts";

export async function runTuning(g: Gpu, quick: boolean, log: (line: string) => void) {
  const h = new WallClockHarness(g, { quick });
  const cases = quick ? [[4, 32]] : [[32, 32], [8, 224]];
  const steps = quick ? 2 : 5;
  for (const [batch, size] of cases) {
    await setAutotune(g, { enabled: false });
    const hand = await measure(h, batch, size, steps);
    if (!await enableAutotune(g)) {
      log("autotune is off (WEBGPU_RESNET_AUTOTUNE=0): nothing measured");
      return;
    }
    const before = new Set(Object.keys(tuningResults(g).timings));
    const measured = await tuneResnetStep(g, { batch, inChannels: 3, size, numClasses: 10 });
    const tuned = await measure(h, batch, size, steps);
    const { winners, timings } = tuningResults(g);
    log(`resnet18 train step N${batch} 3x${size}x${size}: ${measured} shape classes measured`);
    for (const [key, ms] of Object.entries(timings).filter(([k]) => !before.has(k))) {
      const times = Object.entries(ms).map(([v, t]) => `${v} ${t.toFixed(3)} ms`).join(", ");
      log(`  ${key.padEnd(40)} -> ${winners[key]}  (${times})`);
    }
    log(
      `  step: hand choice ${hand.trainMs.toFixed(1)} ms, tuned ${tuned.trainMs.toFixed(1)} ms ` +
        `(${(hand.trainMs / tuned.trainMs).toFixed(3)}x)`,
    );
  }
  log(`winners kept in ${tuningFile()}`);
}
