// Optimizer benchmark rows: one step of SGD (momentum) and Adam/AdamW over ResNet18's
// parameter set (62 tensors, 11.7M values: one fused launch each), and over a single large
// tensor to separate bandwidth from per-launch overhead. All are memory-bound: rows report
// the bytes each update reads and writes (GB/s).

import { Adam, AdamW } from "../nn/optim/adam.ts";
import { SGD } from "../nn/optim/sgd.ts";
import { Tensor } from "../nn/tensor.ts";
import type { BenchRow, Harness } from "./harness.ts";

/** The parameter shapes of torchvision's resnet18 (1000 classes), in its order. */
export function resnet18ParamShapes(classes = 1000): number[][] {
  const shapes: number[][] = [[64, 3, 7, 7], [64], [64]];
  let inC = 64;
  for (const [outC, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
    for (let block = 0; block < 2; block++) {
      const s = block === 0 ? stride : 1;
      shapes.push([outC, inC, 3, 3], [outC], [outC], [outC, outC, 3, 3], [outC], [outC]);
      if (block === 0 && (s !== 1 || inC !== outC)) shapes.push([outC, inC, 1, 1], [outC], [outC]);
      inC = outC;
    }
  }
  shapes.push([classes, 512], [classes]);
  return shapes;
}

type Kind = "SGD" | "Adam" | "AdamW amsgrad";

// f32 values each element's update reads plus writes: SGD param r/w, grad r, buffer r/w;
// Adam param r/w, grad r, exp_avg r/w, exp_avg_sq r/w; amsgrad adds max_exp_avg_sq r/w.
const FLOATS_MOVED: Record<Kind, number> = { SGD: 5, Adam: 7, "AdamW amsgrad": 9 };

async function timeStep(
  h: Harness,
  kind: Kind,
  shapes: number[][],
  label: string,
): Promise<BenchRow> {
  const params = shapes.map((s) => {
    const p = Tensor.full(s, 0.5).keep();
    p.requiresGrad = true;
    p.grad = Tensor.full(s, 1e-3).keep();
    return p;
  });
  let opt: SGD | Adam | AdamW;
  if (kind === "SGD") opt = new SGD(params, { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  else if (kind === "Adam") opt = new Adam(params, { lr: 1e-3, weightDecay: 1e-4 });
  else opt = new AdamW(params, { lr: 1e-3, amsgrad: true });
  try {
    const ms = await h.time(() => opt.step());
    const values = params.reduce((s, p) => s + p.size, 0);
    return {
      op: `optim ${kind} step`,
      shape: `${label} (${shapes.length} tensors, ${(values / 1e6).toFixed(2)}M values)`,
      ms,
      bytes: values * 4 * FLOATS_MOVED[kind],
    };
  } finally {
    opt.dispose();
    for (const p of params) {
      p.grad?.dispose();
      p.dispose();
    }
  }
}

export async function benchOptim(h: Harness): Promise<BenchRow[]> {
  const kinds: Kind[] = h.quick ? ["SGD", "Adam"] : ["SGD", "Adam", "AdamW amsgrad"];
  const rows: BenchRow[] = [];
  for (const kind of kinds) {
    rows.push(await timeStep(h, kind, [[1 << 22]], "one tensor"));
    if (!h.quick) rows.push(await timeStep(h, kind, resnet18ParamShapes(), "resnet18"));
  }
  return rows;
}
