// Weight initialisations with torch.nn.init's formulas, drawn on the CPU from a seeded
// generator (they run once per model, so the CPU is fast enough and exactly reproducible).

import { Rng } from "../base/rng.ts";

/** fan_in and fan_out of a weight [out, in, ...kernel] as torch computes them. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: (shape[1] ?? 1) * receptive, fanOut: shape[0] * receptive };
}

function count(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** kaiming_normal_(mode, nonlinearity="relu"): N(0, sqrt(2 / fan)). */
export function kaimingNormal(
  shape: readonly number[],
  rng: Rng,
  mode: "fan_in" | "fan_out" = "fan_in",
): Float32Array {
  const { fanIn, fanOut } = fans(shape);
  const std = Math.sqrt(2 / (mode === "fan_in" ? fanIn : fanOut));
  return rng.fillNormal(new Float32Array(count(shape)), 0, std);
}

/**
 * kaiming_uniform_(a=sqrt(5)), the default of nn.Linear and nn.Conv2d weights:
 * U(-b, b) with b = 1 / sqrt(fan_in).
 */
export function defaultWeight(shape: readonly number[], rng: Rng): Float32Array {
  const bound = 1 / Math.sqrt(fans(shape).fanIn);
  return rng.fillUniform(new Float32Array(count(shape)), -bound, bound);
}

/** The default bias of nn.Linear / nn.Conv2d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function defaultBias(length: number, fanIn: number, rng: Rng): Float32Array {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return rng.fillUniform(new Float32Array(length), -bound, bound);
}

/** xavier_uniform_(gain): U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform(shape: readonly number[], rng: Rng, gain = 1): Float32Array {
  const { fanIn, fanOut } = fans(shape);
  const a = gain * Math.sqrt(6 / (fanIn + fanOut));
  return rng.fillUniform(new Float32Array(count(shape)), -a, a);
}
