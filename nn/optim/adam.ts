// Adam and AdamW as torch.optim.Adam / torch.optim.AdamW (PyTorch 1.13):
//   Adam:  g = grad + weightDecay * p            AdamW: p *= 1 - lr * weightDecay
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
//   vMax = max(vMax, v) (amsgrad);  denom = sqrt(v or vMax) / sqrt(1 - beta2^t) + eps
//   p -= lr / (1 - beta1^t) * m / denom
// t counts this parameter's updates (a step where it had no gradient does not count).
// One fused kernel launch per parameter per step (kernels/optim.ts).

import type { AdamHyper } from "../../base/optim_hyper.ts";
import { gpu } from "../../kernels/device.ts";
import * as ew from "../../kernels/elementwise.ts";
import { adamStep } from "../../kernels/optim.ts";
import type { Tensor } from "../tensor.ts";
import {
  checkRange,
  Optimizer,
  type ParamGroup,
  paramName,
  type ParamsArg,
  type ParamState,
} from "./optimizer.ts";

export type { AdamHyper };
/** Adam's hyperparameters, each optional (PyTorch's defaults). */
export type AdamOptions = Partial<AdamHyper>;

const KEYS = ["lr", "betas", "eps", "weightDecay", "amsgrad"] as const;

/** What Adam and AdamW share: the moment estimates and the fused update. */
export abstract class AdamBase extends Optimizer<AdamHyper> {
  /** AdamW's decoupled weight decay instead of Adam's L2 term. */
  protected readonly decoupled: boolean;

  /** @ignore */
  protected constructor(kind: string, params: ParamsArg<AdamHyper>, defaults: AdamHyper) {
    super(kind, KEYS, params, defaults);
    this.decoupled = kind === "AdamW";
  }

  /** @ignore */
  protected checkHyper(h: AdamHyper, where: string): void {
    checkRange(h.lr, "lr", where, (x) => x >= 0, ">= 0");
    checkRange(h.eps, "eps", where, (x) => x >= 0, ">= 0");
    if (!Array.isArray(h.betas) || h.betas.length !== 2) {
      throw new TypeError(`${where}: betas must be a pair [beta1, beta2]`);
    }
    h.betas.forEach((b, i) =>
      checkRange(b, `betas[${i}]`, where, (x) => x >= 0 && x < 1, "in [0, 1)")
    );
    checkRange(h.weightDecay, "weightDecay", where, (x) => x >= 0, ">= 0");
    if (typeof h.amsgrad !== "boolean") throw new TypeError(`${where}: amsgrad must be a boolean`);
  }

  /** @ignore */
  protected override requiredState(group: AdamHyper): string[] {
    return group.amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"];
  }

  /** @ignore */
  protected update(
    param: Tensor,
    grad: Tensor,
    group: ParamGroup<AdamHyper>,
    state: ParamState,
  ): void {
    const m = this.stateTensor(param, state, "exp_avg");
    const v = this.stateTensor(param, state, "exp_avg_sq");
    const vMax = group.amsgrad ? this.stateTensor(param, state, "max_exp_avg_sq") : null;
    if (vMax?.fresh && !m.fresh) {
      // amsgrad switched on after some steps: PyTorch's max would start from zeros
      adamZeros(vMax.t);
    }
    adamStep(
      gpu(),
      {
        param: param.buffer,
        grad: grad.buffer,
        expAvg: m.t.buffer,
        expAvgSq: v.t.buffer,
        maxExpAvgSq: vMax?.t.buffer ?? null,
        n: param.size,
      },
      {
        lr: group.lr,
        betas: group.betas,
        eps: group.eps,
        weightDecay: group.weightDecay,
        decoupled: this.decoupled,
        amsgrad: group.amsgrad,
      },
      state.step,
      m.fresh,
      `${this.kind} step of ${paramName(param)}`,
    );
  }
}

function adamZeros(t: Tensor): void {
  ew.fill(gpu(), t.buffer, t.size, 0);
}

/** Adam with L2 weight decay added to the gradient (PyTorch's Adam). */
export class Adam extends AdamBase {
  /** Adam over `params` (tensors or groups); defaults lr 1e-3, betas (0.9, 0.999), eps 1e-8. */
  constructor(params: ParamsArg<AdamHyper>, options: AdamOptions = {}) {
    super("Adam", params, adamDefaults(options, 0));
  }
}

/** Adam with decoupled weight decay (PyTorch's AdamW; default weightDecay 1e-2). */
export class AdamW extends AdamBase {
  /** AdamW over `params` (tensors or groups); defaults lr 1e-3, weight decay 1e-2. */
  constructor(params: ParamsArg<AdamHyper>, options: AdamOptions = {}) {
    super("AdamW", params, adamDefaults(options, 1e-2));
  }
}

function adamDefaults(o: AdamOptions, weightDecay: number): AdamHyper {
  return {
    lr: o.lr ?? 1e-3,
    betas: o.betas ? [o.betas[0], o.betas[1]] : [0.9, 0.999],
    eps: o.eps ?? 1e-8,
    weightDecay: o.weightDecay ?? weightDecay,
    amsgrad: o.amsgrad ?? false,
  };
}
