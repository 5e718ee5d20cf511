// Dropout with a mask regenerated from its seed in the backward pass (never stored).

import { gpu } from "../../kernels/device.ts";
import * as ew from "../../kernels/elementwise.ts";
import { record, Tensor } from "../tensor.ts";

/** x * mask / (1 - p), the mask drawn from `seed`. */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  const out = Tensor.empty(x.shape);
  ew.dropout(gpu(), x.buffer, out.buffer, x.size, p, seed);
  return record(out, "dropout", [x], (g) => {
    const dx = Tensor.empty(x.shape);
    ew.dropout(gpu(), g.buffer, dx.buffer, x.size, p, seed);
    return [dx];
  });
}
