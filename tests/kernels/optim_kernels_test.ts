// The fused optimizer kernels (kernels/optim.ts) on their own, three steps each against the
// update rules of torch.optim.SGD / Adam / AdamW written as f64 loops: plain, momentum,
// dampening and nesterov SGD with weight decay; Adam with L2, AdamW with decoupled decay,
// amsgrad. Sizes not multiples of the vector width; the chunked path under a tiny binding.

import { gpu } from "../../kernels/device.ts";
import { adamStep, sgdStep } from "../../kernels/optim.ts";
import { Scope, Tensor } from "../../nn/tensor.ts";
import { assertClose, gpuReady, randomArray, withBindingLimits } from "../helpers.ts";

await gpuReady;

const N = 333;
const STEPS = 3;
// f32 updates of O(1) values by lr-sized steps: a few f32 ulps of the parameters
const TOL = { atol: 2e-6, rtol: 1e-5 };

async function checkSgd(): Promise<void> {
  const g = gpu();
  const cases = [
    { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 1e-2, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0, nesterov: false },
    { lr: 0.02, momentum: 0.8, dampening: 0, weightDecay: 1e-3, nesterov: true },
  ];
  for (const h of cases) {
    using _ = new Scope();
    const p0 = randomArray(N, 1);
    const param = Tensor.fromArray(p0), buf = Tensor.empty([N]);
    const x = Float64Array.from(p0), b = new Float64Array(N);
    for (let step = 0; step < STEPS; step++) {
      const grad = randomArray(N, 10 + step);
      sgdStep(
        g,
        {
          param: param.buffer,
          grad: Tensor.fromArray(grad).buffer,
          momentumBuf: h.momentum ? buf.buffer : null,
          n: N,
        },
        h,
        step === 0,
      );
      for (let i = 0; i < N; i++) {
        let d = grad[i] + h.weightDecay * x[i];
        if (h.momentum) {
          b[i] = step === 0 ? d : b[i] * h.momentum + (1 - h.dampening) * d;
          d = h.nesterov ? d + h.momentum * b[i] : b[i];
        }
        x[i] -= h.lr * d;
      }
    }
    assertClose(await param.toArray(), x, { ...TOL, what: `sgd ${JSON.stringify(h)}` });
  }
}

async function checkAdam(): Promise<void> {
  const g = gpu();
  const cases = [
    { decoupled: false, amsgrad: false, weightDecay: 0 },
    { decoupled: false, amsgrad: false, weightDecay: 1e-2 },
    { decoupled: true, amsgrad: false, weightDecay: 1e-2 },
    { decoupled: true, amsgrad: true, weightDecay: 1e-2 },
  ];
  for (const c of cases) {
    using _ = new Scope();
    const h = { lr: 1e-2, betas: [0.9, 0.999] as const, eps: 1e-8, ...c };
    const p0 = randomArray(N, 2);
    const param = Tensor.fromArray(p0);
    const m = Tensor.empty([N]), v = Tensor.empty([N]), vMax = Tensor.empty([N]);
    const x = Float64Array.from(p0), mr = new Float64Array(N), vr = new Float64Array(N);
    const vmr = new Float64Array(N);
    for (let step = 1; step <= STEPS; step++) {
      const grad = randomArray(N, 20 + step);
      adamStep(
        g,
        {
          param: param.buffer,
          grad: Tensor.fromArray(grad).buffer,
          expAvg: m.buffer,
          expAvgSq: v.buffer,
          maxExpAvgSq: c.amsgrad ? vMax.buffer : null,
          n: N,
        },
        h,
        step,
        step === 1,
      );
      const [b1, b2] = h.betas;
      for (let i = 0; i < N; i++) {
        let gr = grad[i];
        if (c.decoupled) x[i] *= 1 - h.lr * h.weightDecay;
        else gr += h.weightDecay * x[i];
        mr[i] = b1 * mr[i] + (1 - b1) * gr;
        vr[i] = b2 * vr[i] + (1 - b2) * gr * gr;
        vmr[i] = Math.max(vmr[i], vr[i]);
        const denom = Math.sqrt(c.amsgrad ? vmr[i] : vr[i]) / Math.sqrt(1 - b2 ** step) + h.eps;
        x[i] -= (h.lr / (1 - b1 ** step)) * mr[i] / denom;
      }
    }
    assertClose(await param.toArray(), x, { ...TOL, what: `adam ${JSON.stringify(c)}` });
  }
}

Deno.test("sgdStep matches torch.optim.SGD's update rule for three steps", checkSgd);
Deno.test("adamStep matches torch.optim.Adam/AdamW's update rule for three steps", checkAdam);
Deno.test("optimizer kernels in chunks (tiny binding limit) give the same updates", () =>
  withBindingLimits({ maxBindingBytes: 512, storageAlign: 256 }, async () => {
    await checkSgd();
    await checkAdam();
  }));
