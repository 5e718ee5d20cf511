// SGD with momentum, dampening, Nesterov and weight decay, as torch.optim.SGD (PyTorch 1.13):
//   d = grad + weightDecay * p
//   buf = d on the first step, else momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf        (when momentum != 0)
//   p -= lr * d
// One fused kernel launch per parameter per step (kernels/optim.ts).

import type { SGDHyper } from "../../base/optim_hyper.ts";
import { gpu } from "../../kernels/device.ts";
import { sgdStep } from "../../kernels/optim.ts";
import type { Tensor } from "../tensor.ts";
import {
  checkRange,
  Optimizer,
  type ParamGroup,
  paramName,
  type ParamsArg,
  type ParamState,
} from "./optimizer.ts";

export type { SGDHyper };

/** Defaults as PyTorch's; `lr` has none there either (give it here or in every group). */
export type SGDOptions = Partial<SGDHyper>;

const KEYS = ["lr", "momentum", "dampening", "weightDecay", "nesterov"] as const;

/**
 * Stochastic gradient descent with momentum, dampening, Nesterov and weight decay
 * (torch.optim.SGD).
 */
export class SGD extends Optimizer<SGDHyper> {
  /** SGD over `params` (tensors or groups); defaults lr 1e-3, no momentum. */
  constructor(params: ParamsArg<SGDHyper>, options: SGDOptions = {}) {
    super("SGD", KEYS, params, {
      lr: options.lr as number, // may be undefined if every group sets its own
      momentum: options.momentum ?? 0,
      dampening: options.dampening ?? 0,
      weightDecay: options.weightDecay ?? 0,
      nesterov: options.nesterov ?? false,
    });
  }

  /** @ignore */
  protected checkHyper(h: SGDHyper, where: string): void {
    checkRange(h.lr, "lr", where, (x) => x >= 0, ">= 0");
    checkRange(h.momentum, "momentum", where, (x) => x >= 0, ">= 0");
    checkRange(h.dampening, "dampening", where, Number.isFinite, "a finite number");
    checkRange(h.weightDecay, "weightDecay", where, (x) => x >= 0, ">= 0");
    if (typeof h.nesterov !== "boolean") {
      throw new TypeError(`${where}: nesterov must be a boolean`);
    }
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new RangeError(
        `${where}: Nesterov momentum requires a momentum > 0 and zero dampening`,
      );
    }
  }

  /** @ignore */
  protected update(
    param: Tensor,
    grad: Tensor,
    group: ParamGroup<SGDHyper>,
    state: ParamState,
  ): void {
    const withMomentum = group.momentum !== 0;
    const buf = withMomentum ? this.stateTensor(param, state, "momentum_buffer") : null;
    sgdStep(
      gpu(),
      { param: param.buffer, grad: grad.buffer, momentumBuf: buf?.t.buffer ?? null, n: param.size },
      group,
      buf?.fresh ?? false,
      `SGD step of ${paramName(param)}`,
    );
  }
}
