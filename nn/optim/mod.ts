// Optimizers matching torch.optim (PyTorch 1.13): SGD, Adam, AdamW, with parameter groups,
// fused GPU updates and state dicts for resuming.

export {
  type BaseHyper,
  Optimizer,
  type OptimizerMeta,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupSpec,
  type ParamsArg,
  type ParamState,
} from "./optimizer.ts";
export { SGD, type SGDHyper, type SGDOptions } from "./sgd.ts";
export { Adam, AdamBase, type AdamHyper, type AdamOptions, AdamW } from "./adam.ts";
