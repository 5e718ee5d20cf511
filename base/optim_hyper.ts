// The hyper-parameters of SGD and Adam/AdamW, with PyTorch's meaning, once: nn/optim keeps
// them per parameter group and kernels/optim.ts launches its fused update from them.

export interface SGDHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export interface AdamHyper {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}
