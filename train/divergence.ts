// The error that stops a run whose loss or weights turned NaN or infinite (see trainer.ts):
// where it happened, at which lr, that the checkpoints on disk are those of the last good
// epoch, and what to try.

export interface Divergence {
  /** What was found non-finite: "the training loss", "the weights (...)". */
  what: string;
  value: number;
  /** "epoch 3, between batches 11 and 15 (iteration 45)". */
  where: string;
  lr: number;
  /** How the log prints an lr. */
  lrText: (lr: number) => string;
  /** The run directory. */
  run: string;
}

export class DivergenceError extends Error {
  override name = "DivergenceError";
  constructor(readonly info: Divergence) {
    const value = Number.isNaN(info.value) ? "NaN" : String(info.value);
    super(
      `training diverged: ${info.what} is ${value} at ${info.where}, lr ${info.lrText(info.lr)}. ` +
        `The run stopped without saving this epoch: the checkpoints in ${info.run} (if any) ` +
        `are those of the last good epoch, and no diverged model was saved or marked best. ` +
        `Try a lower --lr (e.g. ${info.lrText(info.lr / 10)})`,
    );
  }
}
