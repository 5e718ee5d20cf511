// Measured selection between kernel variants, per adapter and shape class.
//
// A family with several variants that can run an op asks `choose(...)` at launch (which is
// synchronous: launches are only recorded). The answer is the winner measured for that
// shape class on this adapter if one is known, otherwise the tuning table's default; the
// first launch of an unmeasured class also keeps a `replay` that records the same op
// again with a given variant. `tune(g)` (async, between steps) times every candidate of
// every such class a few times (GPU timestamps where the adapter has them) and remembers
// the winners; a `TuningStore` (a JSON file under .cache/ in the CLI) keeps them across
// runs. Nothing is measured unless autotuning is enabled for the device.

import type { Gpu } from "./device.ts";

/** Where measured winners are kept between runs (the CLI keeps a JSON file). */
export interface TuningStore {
  load(adapterId: string): Promise<Record<string, string>>;
  save(adapterId: string, winners: Record<string, string>): Promise<void>;
}

/** Records the op of one shape class again with `variant` (on scratch buffers). */
export type Replay = (variant: string) => void;

interface Pending {
  candidates: readonly string[];
  fallback: string;
  replay: Replay;
}

interface State {
  enabled: boolean;
  store: TuningStore | null;
  winners: Map<string, string>;
  pending: Map<string, Pending>;
  /** Per measured class: ms per candidate, for `bench --tune` to print. */
  timings: Map<string, Record<string, number>>;
}

const states = new WeakMap<Gpu, State>();

function state(g: Gpu): State {
  let s = states.get(g);
  if (!s) {
    s = { enabled: false, store: null, winners: new Map(), pending: new Map(), timings: new Map() };
    states.set(g, s);
  }
  return s;
}

/**
 * Turns measured selection on (with a store to load winners from and save them to) or off
 * (the tuning table alone decides; nothing is measured).
 */
export async function setAutotune(
  g: Gpu,
  options: { enabled: boolean; store?: TuningStore | null },
): Promise<void> {
  const s = state(g);
  s.enabled = options.enabled;
  s.store = options.store ?? null;
  s.pending.clear();
  s.winners.clear();
  if (s.enabled && s.store) {
    for (const [k, v] of Object.entries(await s.store.load(g.profile.id))) s.winners.set(k, v);
  }
}

/**
 * The variant to run for `family` on shape class `shape`: the measured winner, else
 * `fallback`. With autotuning on, an unmeasured class is queued with `replay` for tune().
 */
export function choose<V extends string>(
  g: Gpu,
  family: string,
  shape: string,
  candidates: readonly V[],
  fallback: V,
  replay?: Replay,
): V {
  const s = states.get(g);
  if (!s?.enabled || candidates.length < 2) return fallback;
  const key = `${family} ${shape}`;
  const won = s.winners.get(key) as V | undefined;
  if (won && candidates.includes(won)) return won;
  if (replay && !s.pending.has(key)) s.pending.set(key, { candidates, fallback, replay });
  return fallback;
}

/** Shape classes waiting to be measured. */
export function pendingClasses(g: Gpu): string[] {
  return [...(states.get(g)?.pending.keys() ?? [])];
}

/** The measured winners (family + shape class -> variant) and the times behind them. */
export function tuningResults(
  g: Gpu,
): { winners: Record<string, string>; timings: Record<string, Record<string, number>> } {
  const s = state(g);
  return { winners: Object.fromEntries(s.winners), timings: Object.fromEntries(s.timings) };
}

/**
 * Measures every queued shape class: each candidate runs once to compile, then `repeats`
 * timed runs; the fastest median wins (the table's default on a tie within 3 %). Saves the
 * winners to the store. Returns how many classes were measured.
 */
export async function tune(g: Gpu, repeats = 5): Promise<number> {
  const s = state(g);
  if (!s.enabled || s.pending.size === 0) return 0;
  const queued = [...s.pending];
  s.pending.clear();
  for (const [key, p] of queued) {
    const ms: Record<string, number> = {};
    for (const c of p.candidates) {
      p.replay(c); // compile and warm up
      await g.sync();
      const runs: number[] = [];
      for (let r = 0; r < repeats; r++) runs.push(await g.timeGpu(() => p.replay(c)));
      runs.sort((a, b) => a - b);
      ms[c] = runs[runs.length >> 1];
    }
    let best = p.fallback;
    for (const c of p.candidates) if (ms[c] < ms[best] * 0.97) best = c;
    s.winners.set(key, best);
    s.timings.set(key, ms);
  }
  if (s.store) await s.store.save(g.profile.id, Object.fromEntries(s.winners));
  return queued.length;
}
