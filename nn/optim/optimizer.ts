// The common part of the optimizers (PyTorch's torch.optim.Optimizer): parameter groups with
// their own hyperparameters, per-parameter state on the GPU, zeroGrad, and a state dict for
// resuming. Subclasses (SGD, Adam, AdamW) only validate their hyperparameters and launch one
// fused update kernel per parameter.

import { ArgumentError } from "../../base/errors.ts";
import { sameShape } from "../../base/shape.ts";
import { gpu } from "../../kernels/device.ts";
import * as ew from "../../kernels/elementwise.ts";
import type { HostTensor, StateDict } from "../io/host_tensor.ts";
import { Tensor } from "../tensor.ts";

/** A hyperparameter value as stored in a group (and in a state dict's JSON). */
export type HyperValue = number | boolean | readonly [number, number];

/** The hyperparameters every optimizer has. */
export interface BaseHyper {
  /** Learning rate. */
  lr: number;
}

/**
 * One parameter group: its tensors and hyperparameters. `lr` may be changed at any time (LR
 * schedulers do); `step()` reads it each time. `initialLr` is set by a scheduler.
 */
export type ParamGroup<H extends BaseHyper> = H & { params: Tensor[]; initialLr?: number };

/** What the constructor accepts for a group: its tensors and any hyperparameters to override. */
export type ParamGroupSpec<H extends BaseHyper> = Partial<H> & {
  params: readonly Tensor[];
  initialLr?: number;
};

/** The parameters to optimize: a list of tensors (one group) or a list of groups. */
export type ParamsArg<H extends BaseHyper> = readonly Tensor[] | readonly ParamGroupSpec<H>[];

/** Per-parameter state: the number of updates made (this one included, during `update`) and
 * the named state tensors. */
export interface ParamState {
  /** Updates made. */
  step: number;
  /** State tensors by PyTorch's name (momentum_buffer, exp_avg, ...). */
  tensors: Map<string, Tensor>;
}

/** The JSON half of an optimizer's state dict (fits a checkpoint's metadata). */
export interface OptimizerMeta {
  /** The optimizer's name ("SGD", "Adam", "AdamW"). */
  optimizer: string;
  /** Each group's hyperparameters, `initialLr` if set, and its parameters' indices. */
  paramGroups: ({ params: number[]; initialLr?: number } & Record<string, unknown>)[];
  /** Per parameter index (in group order) that has state: its step count. */
  state: Record<string, { step: number }>;
}

/**
 * An optimizer's state dict: host tensors named "state.<paramIndex>.<name>" (PyTorch's state
 * names: momentum_buffer, exp_avg, exp_avg_sq, max_exp_avg_sq) and a JSON part. A checkpoint
 * stores them as e.g. `withPrefix(sd.tensors, "optim.")` and `meta.optim = sd.meta`.
 */
export interface OptimizerStateDict {
  /** The state tensors, named "state.<paramIndex>.<name>". */
  tensors: StateDict;
  /** Hyperparameters, groups and step counts. */
  meta: OptimizerMeta;
}

/** The base of SGD, Adam and AdamW: parameter groups, zeroGrad, step, state dicts. */
export abstract class Optimizer<H extends BaseHyper> {
  /** The groups in order; their hyperparameters may be changed between steps. */
  readonly paramGroups: ParamGroup<H>[] = [];
  /** Hyperparameters a group gets when its spec leaves them out. */
  readonly defaults: Readonly<H>;
  /** @ignore */
  protected readonly state = new Map<Tensor, ParamState>();
  /** "SGD", "Adam" or "AdamW": names errors and checks a loaded state dict's origin. */
  readonly kind: string;
  /** The hyperparameter names this optimizer has (lr included). */
  protected readonly hyperKeys: readonly (keyof H & string)[];

  /** @ignore */
  protected constructor(
    kind: string,
    hyperKeys: readonly (keyof H & string)[],
    params: ParamsArg<H>,
    defaults: H,
  ) {
    this.kind = kind;
    this.hyperKeys = hyperKeys;
    this.defaults = { ...defaults };
    const list = [...params] as (Tensor | ParamGroupSpec<H>)[];
    if (list.length === 0) throw new ArgumentError(`${kind}: got an empty parameter list`);
    const specs = list.every((p) => p instanceof Tensor)
      ? [{ params: list as Tensor[] } as unknown as ParamGroupSpec<H>]
      : list;
    for (const spec of specs) {
      if (spec instanceof Tensor) {
        throw new TypeError(
          `${kind}: pass either a list of tensors or a list of groups ` +
            `{ params, lr?, ... }, not a mix`,
        );
      }
      this.addParamGroup(spec);
    }
  }

  /** Throws (naming `where`) if a group's hyperparameters are invalid. */
  protected abstract checkHyper(h: H, where: string): void;

  /** The state tensors a parameter that has been stepped must have under `group`'s settings. */
  protected requiredState(_group: H): string[] {
    return [];
  }

  /** Launches one fused update of `param` from `grad` with its group's hyperparameters. */
  protected abstract update(
    param: Tensor,
    grad: Tensor,
    group: ParamGroup<H>,
    state: ParamState,
  ): void;

  /** Adds a group (e.g. a new head with its own lr), like PyTorch's add_param_group. */
  addParamGroup(spec: ParamGroupSpec<H>): void {
    const where = `${this.kind}: paramGroups[${this.paramGroups.length}]`;
    if (!spec || !Array.isArray(spec.params)) {
      throw new TypeError(`${where}: a group needs a params array of tensors`);
    }
    const allowed = new Set<string>([...this.hyperKeys, "params", "initialLr"]);
    for (const key of Object.keys(spec)) {
      if (!allowed.has(key)) {
        throw new TypeError(
          `${where}: unknown option '${key}' (options: ${[...allowed].join(", ")})`,
        );
      }
    }
    const group = {} as ParamGroup<H>;
    for (const key of this.hyperKeys) {
      const v = spec[key] ?? this.defaults[key]; // copied: groups must not share a betas array
      (group as unknown as Record<string, unknown>)[key] = v === undefined
        ? v
        : copyHyper(v as HyperValue);
    }
    if (group.lr === undefined) {
      throw new TypeError(`${where}: lr is required (give it to the group or as the default)`);
    }
    if (spec.initialLr !== undefined) group.initialLr = spec.initialLr;
    this.checkHyper(group, where);
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    spec.params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new TypeError(`${where}: params[${i}] is not a Tensor`);
      if (p.dtype !== "f32") {
        throw new TypeError(`${where}: params[${i}] ${paramName(p)} is not f32`);
      }
      if (p.gradFn) {
        throw new ArgumentError(
          `${where}: params[${i}] ${paramName(p)} is not a leaf (it was computed by an op)`,
        );
      }
      if (seen.has(p)) {
        throw new ArgumentError(
          `${where}: params[${i}] ${paramName(p)} already appears in a parameter group`,
        );
      }
      seen.add(p);
    });
    group.params = [...spec.params];
    this.paramGroups.push(group);
  }

  /**
   * Updates every parameter that requires grad and has a gradient (one launch each); the
   * others are skipped, as PyTorch skips parameters whose grad is None. Nothing is read back.
   */
  step(): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        const grad = p.grad;
        if (!p.requiresGrad || !grad) continue;
        if (grad.size !== p.size) {
          throw new ArgumentError(
            `${this.kind}.step: ${paramName(p)} has a gradient of shape [${grad.shape}], ` +
              `expected [${p.shape}]`,
          );
        }
        let state = this.state.get(p);
        if (!state) this.state.set(p, state = { step: 0, tensors: new Map() });
        state.step++;
        this.update(p, grad, group, state);
      }
    }
  }

  /**
   * Clears the gradients before the next backward. Default (`setToNone` true, PyTorch 2's
   * default; 1.13's was false): `grad = null` and its buffer goes back to the pool, so the next
   * backward adopts its gradient without a copy. With false, gradients are filled with zeros.
   */
  zeroGrad(setToNone = true): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (!p.grad) continue;
        if (setToNone) {
          p.grad.dispose();
          p.grad = null;
        } else {
          ew.fill(gpu(), p.grad.buffer, p.grad.size, 0);
        }
      }
    }
  }

  /** State tensor `name` of `param`, created (uninitialised, kept from scopes) if missing. */
  protected stateTensor(
    param: Tensor,
    state: ParamState,
    name: string,
  ): { t: Tensor; fresh: boolean } {
    const had = state.tensors.get(name);
    if (had) return { t: had, fresh: false };
    const t = Tensor.empty(param.shape).keep();
    state.tensors.set(name, t);
    return { t, fresh: true };
  }

  /** The GPU state tensors by state-dict name ("state.<paramIndex>.<name>"), without a copy. */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.#params().forEach((p, i) => {
      for (const [name, t] of this.state.get(p)?.tensors ?? []) out.set(`state.${i}.${name}`, t);
    });
    return out;
  }

  /** Reads the state back (one GPU round trip) with each group's hyperparameters. */
  async stateDict(): Promise<OptimizerStateDict> {
    const params = this.#params();
    const index = new Map(params.map((p, i) => [p, i]));
    const gpuTensors = this.stateTensors();
    const bytes = await gpu().read(
      [...gpuTensors.values()].map((t) => ({ buffer: t.buffer, size: t.size * 4 })),
    );
    const tensors: StateDict = new Map();
    [...gpuTensors].forEach(([name, t], i) => {
      tensors.set(name, { dtype: "f32", shape: [...t.shape], data: new Float32Array(bytes[i]) });
    });
    const state: OptimizerMeta["state"] = {};
    params.forEach((p, i) => {
      const s = this.state.get(p);
      if (s) state[String(i)] = { step: s.step };
    });
    const paramGroups = this.paramGroups.map((g) => {
      const packed: OptimizerMeta["paramGroups"][number] = {
        params: g.params.map((p) => index.get(p)!),
      };
      for (const key of this.hyperKeys) {
        (packed as Record<string, unknown>)[key] = copyHyper(g[key] as HyperValue);
      }
      if (g.initialLr !== undefined) packed.initialLr = g.initialLr;
      return packed;
    });
    return { tensors, meta: { optimizer: this.kind, paramGroups, state } };
  }

  /**
   * Restores a state dict from `stateDict()` (possibly through a checkpoint file): the groups'
   * hyperparameters (lr and initialLr included) and every parameter's state. The optimizer must
   * have been built over the same parameters in the same group layout.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const who = `${this.kind}.loadStateDict`;
    const meta = sd?.meta;
    if (!meta || typeof meta !== "object" || !Array.isArray(meta.paramGroups)) {
      throw new TypeError(`${who}: expected { tensors, meta: { optimizer, paramGroups, state } }`);
    }
    if (meta.optimizer !== this.kind) {
      throw new TypeError(`${who}: this state dict belongs to ${meta.optimizer}, not ${this.kind}`);
    }
    if (meta.paramGroups.length !== this.paramGroups.length) {
      throw new RangeError(
        `${who}: the state dict has ${meta.paramGroups.length} parameter groups, ` +
          `this optimizer ${this.paramGroups.length}`,
      );
    }
    // validate everything before changing anything
    const hypers = meta.paramGroups.map((saved, gi) => {
      const where = `${who}: paramGroups[${gi}]`;
      const n = this.paramGroups[gi].params.length;
      if (!Array.isArray(saved.params) || saved.params.length !== n) {
        throw new RangeError(
          `${where} has ${saved.params?.length} parameters, this optimizer's ${n}`,
        );
      }
      const h = {} as H;
      for (const key of this.hyperKeys) {
        if (saved[key] === undefined) throw new TypeError(`${where}: missing ${key}`);
        (h as Record<string, unknown>)[key] = copyHyper(saved[key] as HyperValue);
      }
      this.checkHyper(h, where);
      if (saved.initialLr !== undefined && typeof saved.initialLr !== "number") {
        throw new TypeError(`${where}: initialLr must be a number`);
      }
      return { h, initialLr: saved.initialLr };
    });
    const params = this.#params();
    const state = new Map<Tensor, ParamState>();
    for (const [key, s] of Object.entries(meta.state ?? {})) {
      const i = Number(key);
      const p = params[i];
      if (!Number.isInteger(i) || !p) {
        throw new RangeError(`${who}: state for unknown parameter ${key}`);
      }
      if (!Number.isInteger(s?.step) || s.step < 0) {
        throw new TypeError(`${who}: state.${key}.step must be an integer >= 0, got ${s?.step}`);
      }
      state.set(p, { step: s.step, tensors: new Map() });
    }
    const uploads: [ParamState, string, Tensor, HostTensor][] = [];
    for (const [name, host] of sd.tensors ?? []) {
      const m = /^state\.(\d+)\.(\w+)$/.exec(name);
      const s = m ? state.get(params[Number(m[1])]) : undefined;
      if (!m || !s) {
        throw new ArgumentError(`${who}: unexpected tensor '${name}' (no such parameter state)`);
      }
      const p = params[Number(m[1])];
      if (host.dtype !== "f32" || host.data.length !== p.size || !sameShape(host.shape, p.shape)) {
        throw new ArgumentError(
          `${who}: '${name}' is ${host.dtype}[${host.shape}], parameter ${
            paramName(p)
          } is f32[${p.shape}]`,
        );
      }
      uploads.push([s, m[2], p, host]);
    }
    const groupOf = new Map(this.paramGroups.flatMap((g, gi) => g.params.map((p) => [p, gi])));
    for (const [p, s] of state) {
      const i = params.indexOf(p);
      const have = new Set(uploads.filter((u) => u[0] === s).map((u) => u[1]));
      const missing = this.requiredState(hypers[groupOf.get(p)!].h).find((n) => !have.has(n));
      if (s.step > 0 && missing) {
        throw new ArgumentError(
          `${who}: parameter ${i} has a step count but no tensor 'state.${i}.${missing}'`,
        );
      }
    }
    // commit
    for (const s of this.state.values()) for (const t of s.tensors.values()) t.dispose();
    this.state.clear();
    for (const [s, stateName, p, host] of uploads) {
      s.tensors.set(stateName, Tensor.fromArray(host.data as Float32Array, p.shape).keep());
    }
    for (const [p, s] of state) this.state.set(p, s);
    hypers.forEach(({ h, initialLr }, gi) => {
      const group = this.paramGroups[gi];
      Object.assign(group, h);
      if (initialLr === undefined) delete group.initialLr;
      else group.initialLr = initialLr;
    });
  }

  /** Releases the state tensors (the optimizer starts afresh if stepped again). */
  dispose(): void {
    for (const s of this.state.values()) for (const t of s.tensors.values()) t.dispose();
    this.state.clear();
  }

  /** All parameters in group order: their positions are the state dict's indices. */
  #params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }
}

function copyHyper(v: HyperValue): HyperValue {
  return Array.isArray(v) ? [v[0], v[1]] as const : v;
}

export function paramName(p: Tensor): string {
  return p.name ? `'${p.name}' ${p}` : String(p);
}

/** Range checks shared by the optimizers' hyperparameter validation. */
export function checkRange(
  value: unknown,
  name: string,
  where: string,
  ok: (x: number) => boolean,
  rule: string,
): number {
  if (typeof value !== "number" || !ok(value)) {
    throw new RangeError(`${where}: ${name} must be ${rule}, got ${String(value)}`);
  }
  return value;
}
