// The hyper-parameters of SGD and Adam/AdamW, with PyTorch's meaning, once: nn/optim keeps
// them per parameter group and kernels/optim.ts launches its fused update from them.

/** SGD's hyperparameters, as torch.optim.SGD names them. */
export interface SGDHyper {
  /** Learning rate. */
  lr: number;
  /** Momentum factor (0: plain SGD). */
  momentum: number;
  /** Dampening of the momentum. */
  dampening: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  /** Nesterov momentum. */
  nesterov: boolean;
}

/** Adam's and AdamW's hyperparameters, as torch.optim.Adam names them. */
export interface AdamHyper {
  /** Learning rate. */
  lr: number;
  /** Decay rates of the first and second moment estimates. */
  betas: readonly [number, number];
  /** Added to the denominator for numerical stability. */
  eps: number;
  /** L2 penalty (Adam) or decoupled weight decay (AdamW). */
  weightDecay: number;
  /** Use the maximum of past second moments (AMSGrad). */
  amsgrad: boolean;
}
