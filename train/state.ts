// Reads a model's state back in one GPU round trip (Module.stateDict() reads tensor by
// tensor, which costs a GPU wait each: over a hundred for ResNet18).

import { gpu } from "../kernels/device.ts";
import { hostTensor, type StateDict } from "../nn/io/host_tensor.ts";
import { BatchNorm2d } from "../nn/layers.ts";
import type { Module } from "../nn/module.ts";

/** The same names and values as `model.stateDict()`, read with a single readback. */
export async function readModelState(model: Module): Promise<StateDict> {
  const tensors = [...model.namedParameters(), ...model.namedBuffers()];
  const bytes = await gpu().read(tensors.map(([, t]) => ({ buffer: t.buffer, size: t.size * 4 })));
  const out: StateDict = new Map();
  tensors.forEach(([name, t], i) =>
    out.set(name, hostTensor("f32", [...t.shape], new Float32Array(bytes[i])))
  );
  for (const [prefix, m] of model.namedModules()) {
    if (m instanceof BatchNorm2d) {
      out.set(
        `${prefix ? prefix + "." : ""}num_batches_tracked`,
        hostTensor("i64", [], BigInt64Array.of(BigInt(m.numBatchesTracked))),
      );
    }
  }
  return out;
}
