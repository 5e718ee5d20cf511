// The host-overhead budget: for a full ResNet18 training step, how long JavaScript takes to
// record every launch (autograd, kernel selection, parameter packing, bind groups), apart
// from the GPU's execution; and what WebGPU itself costs for the same number of dispatches
// (a bind group of four bindings, setPipeline, setBindGroup, dispatchWorkgroups each, on a
// trivial pipeline), so the engine's own share per launch is the difference. On a GPU a
// step is a few milliseconds of GPU work, so this is what keeps it from being host-bound.

import type { Gpu } from "../kernels/device.ts";
import { crossEntropy } from "../nn/ops/loss.ts";
import { SGD } from "../nn/optim/sgd.ts";
import { resnet18 } from "../nn/resnet.ts";
import { Scope, Tensor } from "../nn/tensor.ts";
import type { BenchRow, Harness } from "./harness.ts";
import { median } from "./timing.ts";

interface StepCost {
  launches: number;
  /** Median ms to record one step (JavaScript only; submits made meanwhile included). */
  recordMs: number;
  /** Median ms from the end of recording until the GPU finished the step. */
  gpuMs: number;
}

async function stepCost(g: Gpu, batch: number, size: number, steps: number): Promise<StepCost> {
  const model = resnet18({ numClasses: 10 });
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = Tensor.randn([batch, 3, size, size], { seed: 1 }).keep();
  const y = Tensor.fromArray(Int32Array.from({ length: batch }, (_, i) => i % 10)).keep();
  const record: number[] = [], wait: number[] = [];
  let launches = 0;
  try {
    for (let i = 0; i <= steps; i++) {
      await g.sync();
      const before = g.counters.launches;
      const t0 = performance.now();
      {
        using _ = new Scope();
        opt.zeroGrad();
        const loss = crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
      }
      const t1 = performance.now();
      await g.sync();
      const t2 = performance.now();
      if (i === 0) continue; // warm-up: pipelines compile, the pool fills
      launches = g.counters.launches - before;
      record.push(t1 - t0);
      wait.push(t2 - t1);
    }
  } finally {
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  }
  return { launches, recordMs: median(record), gpuMs: median(wait) };
}

/**
 * Milliseconds WebGPU takes to record `count` dispatches of a trivial kernel, each with its
 * own bind group (three storage buffers and a uniform at its own offset), in one pass, and
 * submit them: the floor under any engine's per-launch cost.
 */
async function webgpuCost(g: Gpu, count: number, repeats: number): Promise<number> {
  const device = g.device;
  const module = device.createShaderModule({
    code: /* wgsl */ `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
struct P { n: u32, k: u32, s: f32, t: f32 }
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(1)
fn main() { c[0] = a[0] + b[0] * p.s; }`,
  });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const layout = pipeline.getBindGroupLayout(0);
  const storage = (label: string) =>
    device.createBuffer({ label, size: 256, usage: GPUBufferUsage.STORAGE });
  const [a, b, c] = [storage("a"), storage("b"), storage("c")];
  const align = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
  const uniform = device.createBuffer({
    size: align * count,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  const params = new Uint8Array(align * count);
  const times: number[] = [];
  try {
    for (let r = 0; r <= repeats; r++) {
      await device.queue.onSubmittedWorkDone();
      const t0 = performance.now();
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      for (let i = 0; i < count; i++) {
        const group = device.createBindGroup({
          layout,
          entries: [
            { binding: 0, resource: { buffer: a } },
            { binding: 1, resource: { buffer: b } },
            { binding: 2, resource: { buffer: c } },
            { binding: 3, resource: { buffer: uniform, offset: i * align, size: 16 } },
          ],
        });
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(1);
      }
      pass.end();
      device.queue.writeBuffer(uniform, 0, params);
      device.queue.submit([encoder.finish()]);
      const t1 = performance.now();
      if (r > 0) times.push(t1 - t0);
    }
    await device.queue.onSubmittedWorkDone();
  } finally {
    for (const buffer of [a, b, c, uniform]) buffer.destroy();
  }
  return median(times);
}

export async function benchHostOverhead(h: Harness): Promise<BenchRow[]> {
  const g = h.gpu;
  const cases = h.quick ? [[4, 32]] : [[32, 32], [8, 224]];
  const rows: BenchRow[] = [];
  for (const [batch, size] of cases) {
    const step = await stepCost(g, batch, size, h.quick ? 2 : 5);
    const raw = await webgpuCost(g, step.launches, h.quick ? 2 : 5);
    const us = (ms: number) => (ms * 1000 / step.launches).toFixed(1);
    const extra = step.recordMs - raw;
    rows.push({
      op: "host: record step",
      shape:
        `N${batch} 3x${size}x${size}: ${step.launches} launches, ${us(step.recordMs)} µs/launch ` +
        `(WebGPU floor ${us(raw)}, engine ${extra >= 0 ? "+" : "-"}${us(Math.abs(extra))}); ` +
        `GPU ${step.gpuMs.toFixed(1)} ms`,
      ms: step.recordMs,
    });
    rows.push({
      op: "host: webgpu floor",
      shape: `${step.launches} bare dispatches, ${us(raw)} µs each`,
      ms: raw,
    });
  }
  return rows;
}
