// Module: a layer or a network whose parameters, buffers and sub-modules are its own
// fields, discovered in field order the way PyTorch's __setattr__ registers them. So
// names come out as torchvision's (`layer1.0.bn1.running_mean`) and replacing a head is
// a plain assignment: `model.fc = new Linear(512, 2)`.

import { ArgumentError } from "../base/errors.ts";
import { sameShape } from "../base/shape.ts";
import { hostTensor, type StateDict, toFloat32 } from "./io/host_tensor.ts";
import { gpu } from "../kernels/device.ts";
import { Tensor } from "./tensor.ts";

/** What loadStateDict did, by parameter name. */
export interface LoadReport {
  /** Entries copied from the state dict. */
  loaded: string[];
  /** In the model but not in the file. */
  missing: string[];
  /** In the file but not in the model. */
  unexpected: string[];
  /** In both, with different shapes (not loaded). */
  mismatched: { name: string; expected: number[]; got: number[] }[];
}

/** The base of layers and networks (torch.nn.Module): parameters, buffers, state dicts, modes. */
export abstract class Module {
  /** Training mode (batch statistics, dropout) or evaluation mode. */
  training = true;

  /** The module's computation. */
  abstract forward(x: Tensor): Tensor;

  /** Field names of this module's tensors that are buffers, not parameters. */
  protected bufferNames(): readonly string[] {
    return [];
  }

  /** This module's own sub-modules, in registration order. */
  namedChildren(): [string, Module][] {
    return Object.entries(this).filter((e): e is [string, Module] => e[1] instanceof Module);
  }

  /** Every module below (and including) this one, with dotted names. */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.namedChildren()) {
      out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    }
    return out;
  }

  /** Parameters with their full names, e.g. `layer1.0.conv1.weight`. */
  namedParameters(): [string, Tensor][] {
    return this.#collect((m) => m.#ownTensors().filter(([n]) => !m.bufferNames().includes(n)));
  }

  /** Every parameter, in registration order (what an optimizer takes). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Buffers (BatchNorm's running statistics and batch counter) with their full names. */
  namedBuffers(): [string, Tensor][] {
    return this.#collect((m) => m.#ownTensors().filter(([n]) => m.bufferNames().includes(n)));
  }

  /** Sets training mode here and below; returns this. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.setTraining(mode);
    return this;
  }

  /** Sets evaluation mode here and below (running statistics, no dropout); returns this. */
  eval(): this {
    return this.train(false);
  }

  /** How one module takes a train()/eval() call (BatchNorm may hold on to eval mode). */
  protected setTraining(mode: boolean): void {
    this.training = mode;
  }

  /**
   * Sets requiresGrad on the parameters whose names start with one of `prefixes`
   * (all parameters when none are given). Frozen parameters get no gradient and cost no
   * weight-gradient work. Returns the names changed.
   */
  setRequiresGrad(flag: boolean, ...prefixes: string[]): string[] {
    const names: string[] = [];
    for (const [name, p] of this.namedParameters()) {
      if (prefixes.length === 0 || prefixes.some((pre) => matchesPrefix(name, pre))) {
        p.requiresGrad = flag;
        if (!flag) {
          p.grad?.dispose();
          p.grad = null;
        }
        names.push(name);
      }
    }
    if (prefixes.length && names.length === 0) {
      throw new ArgumentError(`no parameter name starts with ${prefixes.join(", ")}`);
    }
    return names;
  }

  /** Freezes everything except the parameters under `trainable` (e.g. ["fc"]). */
  freezeExcept(...trainable: string[]): void {
    this.setRequiresGrad(false);
    if (trainable.length) this.setRequiresGrad(true, ...trainable);
  }

  /** The sub-module at a dotted path, e.g. `layer2.0.downsample`. */
  getSubmodule(path: string): Module {
    const found = this.namedModules().find(([name]) => name === path)?.[1];
    if (!found) throw new ArgumentError(`no sub-module '${path}'`);
    return found;
  }

  /**
   * Parameters and buffers by name, read back in one GPU round trip: f32 tensors as f32,
   * integer buffers (num_batches_tracked) as int64, the dtype PyTorch gives them.
   */
  async stateDict(): Promise<StateDict> {
    const entries: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      const dotted = prefix ? `${prefix}.` : "";
      for (const [name, t] of m.#ownTensors()) entries.push([dotted + name, t]);
    }
    const bytes = await gpu().read(
      entries.map(([, t]) => ({ buffer: t.buffer, size: t.size * 4 })),
    );
    const out: StateDict = new Map();
    entries.forEach(([name, t], i) => {
      out.set(
        name,
        t.dtype === "i32"
          ? hostTensor("i64", [...t.shape], BigInt64Array.from(new Int32Array(bytes[i]), BigInt))
          : hostTensor("f32", [...t.shape], new Float32Array(bytes[i])),
      );
    });
    return out;
  }

  /**
   * Copies values by name (any float dtype converted to f32, integer buffers kept integer).
   * With `strict` (the default) anything missing, unexpected or of the wrong shape throws,
   * listing every problem, and nothing is loaded; otherwise only matching entries load and
   * the report says what. A missing num_batches_tracked is not a problem (files older than
   * the counter lack it; PyTorch starts it at 0 too).
   */
  loadStateDict(dict: StateDict, options: { strict?: boolean } = {}): LoadReport {
    const strict = options.strict ?? true;
    const report: LoadReport = { loaded: [], missing: [], unexpected: [], mismatched: [] };
    const plan: (() => void)[] = [];
    const known = new Set<string>();
    for (const [prefix, m] of this.namedModules()) {
      const dotted = prefix ? `${prefix}.` : "";
      for (const [name, t] of m.#ownTensors()) {
        const key = dotted + name;
        known.add(key);
        const h = dict.get(key);
        if (!h) {
          if (!m.optionalBuffers().includes(name)) report.missing.push(key);
        } else if (!sameShape(h.shape, t.shape)) {
          report.mismatched.push({ name: key, expected: [...t.shape], got: [...h.shape] });
        } else {
          const integer = t.dtype === "i32" && (h.dtype === "i64" || h.dtype === "i32");
          const values = integer ? h.data as BigInt64Array | Int32Array : toFloat32(h);
          plan.push(() =>
            m.#assign(name, Tensor.fromArray(values, t.shape, { dtype: t.dtype }), t)
          );
          report.loaded.push(key);
        }
      }
    }
    for (const key of dict.keys()) if (!known.has(key)) report.unexpected.push(key);
    if (strict && (report.missing.length || report.unexpected.length || report.mismatched.length)) {
      throw new ArgumentError(describeProblems(report));
    }
    for (const step of plan) step();
    return report;
  }

  /** Buffers that a state dict may leave out (they keep their current value). */
  protected optionalBuffers(): readonly string[] {
    return [];
  }

  /** Frees the GPU memory of every parameter, buffer and gradient. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const [, t] of m.#ownTensors()) {
        t.grad?.dispose();
        t.dispose();
      }
    }
  }

  #ownTensors(): [string, Tensor][] {
    return Object.entries(this).filter((e): e is [string, Tensor] => e[1] instanceof Tensor);
  }

  #collect(pick: (m: Module) => [string, Tensor][]): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const [name, t] of pick(m)) out.push([prefix ? `${prefix}.${name}` : name, t]);
    }
    return out;
  }

  /** Replaces a tensor field with `value`, keeping requiresGrad and freeing the old one. */
  #assign(name: string, value: Tensor, old: Tensor): void {
    value.requiresGrad = old.requiresGrad;
    value.name = old.name;
    value.keep();
    (this as unknown as Record<string, Tensor>)[name] = value;
    old.grad?.dispose();
    old.dispose();
  }
}

function matchesPrefix(name: string, prefix: string): boolean {
  return name === prefix || name.startsWith(prefix + ".");
}

export function describeProblems(r: LoadReport): string {
  const lines = ["the state dict does not fit the model:"];
  if (r.missing.length) lines.push(`  missing (${r.missing.length}): ${r.missing.join(", ")}`);
  if (r.unexpected.length) {
    lines.push(`  unexpected (${r.unexpected.length}): ${r.unexpected.join(", ")}`);
  }
  for (const m of r.mismatched) {
    lines.push(
      `  shape mismatch: ${m.name} is [${m.expected}] in the model, [${m.got}] in the file`,
    );
  }
  lines.push("  (load with { strict: false } to take only the entries that fit)");
  return lines.join("\n");
}
