// Matrix products with their backward rules: matmul (2-D) and linear (PyTorch's
// y = x Wᵀ + b). Each is one GEMM forward; backward is one GEMM per input that needs a
// gradient, and a column sum for the bias.

import { ArgumentError } from "../../base/errors.ts";
import { gpu } from "../../kernels/device.ts";
import { gemm } from "../../kernels/gemm.ts";
import { sumAxis } from "../../kernels/reduce.ts";
import { record, sizeOf, Tensor } from "../tensor.ts";

function f32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== "f32") throw new ArgumentError(`${op}: expects f32 tensors, got ${t}`);
  }
}

/** a [m, k] · b [k, n] -> [m, n] */
export function matmul(a: Tensor, b: Tensor): Tensor {
  f32("matmul", a, b);
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0]) {
    throw new ArgumentError(
      `matmul: cannot multiply [${a.shape}] by [${b.shape}] (expects [m, k] and [k, n])`,
    );
  }
  const [m, k] = a.shape;
  const n = b.shape[1];
  const out = Tensor.empty([m, n]);
  gemm(gpu(), a.buffer, b.buffer, out.buffer, { m, n, k });
  return record(out, "matmul", [a, b], (g, needs) => {
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (needs[0]) {
      da = Tensor.empty(a.shape); // dA = dC · Bᵀ
      gemm(gpu(), g.buffer, b.buffer, da.buffer, { m, n: k, k: n, transB: true });
    }
    if (needs[1]) {
      db = Tensor.empty(b.shape); // dB = Aᵀ · dC
      gemm(gpu(), a.buffer, g.buffer, db.buffer, { m: k, n, k: m, transA: true });
    }
    return [da, db];
  });
}

/**
 * y = x Wᵀ + b for x [..., in], weight [out, in], bias [out] -> y [..., out], as
 * torch.nn.functional.linear.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const ins = bias ? [x, weight, bias] : [x, weight];
  f32("linear", ...ins);
  if (weight.shape.length !== 2 || x.shape.length < 1 || x.shape.at(-1) !== weight.shape[1]) {
    throw new ArgumentError(
      `linear: input [${x.shape}] does not match weight [${weight.shape}] (expects [..., in] and [out, in])`,
    );
  }
  const [outF, inF] = weight.shape;
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== outF)) {
    throw new ArgumentError(
      `linear: bias [${bias.shape}] does not match weight [${weight.shape}] (expects [${outF}])`,
    );
  }
  const rows = sizeOf(x.shape.slice(0, -1));
  const out = Tensor.empty([...x.shape.slice(0, -1), outF]);
  gemm(gpu(), x.buffer, weight.buffer, out.buffer, {
    m: rows,
    n: outF,
    k: inF,
    transB: true,
    bias: bias?.buffer,
  });
  return record(out, "linear", ins, (g, needs) => {
    const grads: (Tensor | null)[] = [null, null, null];
    if (needs[0]) {
      const dx = Tensor.empty(x.shape); // dX = dY · W
      gemm(gpu(), g.buffer, weight.buffer, dx.buffer, { m: rows, n: inF, k: outF });
      grads[0] = dx;
    }
    if (needs[1]) {
      const dw = Tensor.empty(weight.shape); // dW = dYᵀ · X
      gemm(gpu(), g.buffer, x.buffer, dw.buffer, { m: outF, n: inF, k: rows, transA: true });
      grads[1] = dw;
    }
    if (bias && needs[2]) {
      const db = Tensor.empty(bias.shape); // db = column sums of dY
      sumAxis(gpu(), g.buffer, db.buffer, 1, rows, outF);
      grads[2] = db;
    }
    return grads.slice(0, ins.length);
  });
}
