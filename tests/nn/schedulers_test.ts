// LR schedulers against traces written by PyTorch 1.13
// (tests/fixtures/sched/make_sched_fixtures.py), resume through state dicts, and argument checks.
//
// Tolerances. ReduceLROnPlateau and StepLR only multiply and compare doubles; IEEE 754 rounds
// each product correctly, and we do the same operations in the same order as PyTorch, so their
// lrs must be identical to the bit: compared with strict equality. CosineAnnealingLR also calls
// cos(), which V8 (its own fdlibm port) and CPython (the platform libm) each compute within 1 ulp
// but not necessarily identically; the chained formula carries such a difference forward (a few
// ulps per step over up to 45 steps, magnified up to ~100x relative where the lr sits near
// eta_min = base/100), which stays below 1e-12 relative. On this machine the traces are in fact
// bit-identical. The closed and chained forms differ only by ~1e-15, below that tolerance, so the
// chaining itself is checked by cases that overwrite the lr by hand mid-run.

import assert from "node:assert/strict";
import {
  CosineAnnealingLR,
  type HasParamGroups,
  type LrReduction,
  ReduceLROnPlateau,
  type ReduceLROnPlateauOptions,
  StepLR,
} from "../../nn/schedulers.ts";

const COSINE_RTOL = 1e-12;

interface PlateauStep {
  lrs: number[];
  best: number | "Infinity" | "-Infinity";
  numBadEpochs: number;
  cooldownCounter: number;
}
interface EpochStep {
  lrs: number[];
  lastEpoch: number;
}
interface PlateauCase {
  name: string;
  scheduler: "ReduceLROnPlateau";
  kwargs: Record<string, any>;
  initialLrs: number[];
  metrics: number[];
  steps: PlateauStep[];
}
interface EpochCase {
  name: string;
  scheduler: "StepLR" | "CosineAnnealingLR";
  kwargs: Record<string, any>;
  lastEpoch: number;
  setLr: [number, number[]] | null;
  initialLrs: number[];
  afterInit: number[];
  steps: EpochStep[];
}

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/sched/sched_traces.json", import.meta.url)),
) as { torch: string; cases: (PlateauCase | EpochCase)[] };
const plateauCases = fixture.cases.filter((c): c is PlateauCase =>
  c.scheduler === "ReduceLROnPlateau"
);
const epochCases = fixture.cases.filter((c): c is EpochCase => c.scheduler !== "ReduceLROnPlateau");

/** A stand-in optimizer: just parameter groups, as the schedulers see a real one. */
function makeOptimizer(lrs: number[]): HasParamGroups {
  return { paramGroups: lrs.map((lr) => ({ lr })) };
}

function lrsOf(opt: HasParamGroups): number[] {
  return opt.paramGroups.map((g) => g.lr);
}

/** PyTorch's keyword arguments, in this engine's names. */
function plateauOptions(kwargs: Record<string, any>): ReduceLROnPlateauOptions {
  return {
    mode: kwargs.mode,
    factor: kwargs.factor,
    patience: kwargs.patience,
    threshold: kwargs.threshold,
    thresholdMode: kwargs.threshold_mode,
    cooldown: kwargs.cooldown,
    minLr: kwargs.min_lr,
    eps: kwargs.eps,
  };
}

function makeEpochScheduler(c: EpochCase, opt: HasParamGroups): StepLR | CosineAnnealingLR {
  if (c.scheduler === "StepLR") {
    return new StepLR(opt, {
      stepSize: c.kwargs.step_size,
      gamma: c.kwargs.gamma,
      lastEpoch: c.lastEpoch,
    });
  }
  return new CosineAnnealingLR(opt, {
    tMax: c.kwargs.T_max,
    etaMin: c.kwargs.eta_min,
    lastEpoch: c.lastEpoch,
  });
}

/** The fixture's resume cases start from groups whose initialLr is their lr. */
function makeEpochOptimizer(c: EpochCase): HasParamGroups {
  const opt = makeOptimizer(c.initialLrs);
  if (c.lastEpoch !== -1) { for (const g of opt.paramGroups) g.initialLr = g.lr; }
  return opt;
}

function assertLrs(
  c: EpochCase | PlateauCase,
  actual: number[],
  expected: number[],
  where: string,
) {
  assert.equal(actual.length, expected.length, `${c.name} ${where}: group count`);
  if (c.scheduler !== "CosineAnnealingLR") {
    assert.deepEqual(actual, expected, `${c.name} ${where}: lrs must be bit-identical`);
    return;
  }
  actual.forEach((a, j) => {
    const e = expected[j];
    const err = Math.abs(a - e);
    assert.ok(
      err <= COSINE_RTOL * Math.abs(e),
      `${c.name} ${where} group ${j}: got ${a}, PyTorch ${e} (rel err ${err / Math.abs(e)})`,
    );
  });
}

const decodeBest = (
  b: PlateauStep["best"],
) => (b === "Infinity" ? Infinity : b === "-Infinity" ? -Infinity : b);

for (const c of plateauCases) {
  Deno.test(`ReduceLROnPlateau matches PyTorch: ${c.name}`, () => {
    const opt = makeOptimizer(c.initialLrs);
    const heard: LrReduction[] = [];
    const sched = new ReduceLROnPlateau(opt, {
      ...plateauOptions(c.kwargs),
      onReduce: (r) => heard.push(r),
    });
    let previous = lrsOf(opt);
    let returned: LrReduction[] = [];
    c.metrics.forEach((metric, i) => {
      const cuts = sched.step(metric);
      returned = returned.concat(cuts);
      const expected = c.steps[i];
      const where = `step ${i + 1} (metric ${metric})`;
      assertLrs(c, lrsOf(opt), expected.lrs, where);
      assert.equal(sched.best, decodeBest(expected.best), `${c.name} ${where}: best`);
      assert.equal(sched.numBadEpochs, expected.numBadEpochs, `${c.name} ${where}: numBadEpochs`);
      assert.equal(
        sched.cooldownCounter,
        expected.cooldownCounter,
        `${c.name} ${where}: cooldownCounter`,
      );
      assert.equal(sched.lastEpoch, i + 1);
      assert.deepEqual(sched.getLastLr(), lrsOf(opt));
      // What step() reports is exactly the set of groups whose lr changed.
      const changed = previous.flatMap((lr, g) =>
        lr !== expected.lrs[g]
          ? [{ group: g, oldLr: lr, newLr: expected.lrs[g], epoch: i + 1 }]
          : []
      );
      assert.deepEqual(cuts, changed, `${c.name} ${where}: reported reductions`);
      previous = lrsOf(opt);
    });
    assert.deepEqual(
      heard,
      returned,
      `${c.name}: onReduce saw the same reductions as step() returned`,
    );
  });
}

for (const c of epochCases) {
  Deno.test(`${c.scheduler} matches PyTorch: ${c.name}`, () => {
    const opt = makeEpochOptimizer(c);
    const sched = makeEpochScheduler(c, opt);
    assertLrs(c, lrsOf(opt), c.afterInit, "after construction");
    assert.equal(sched.lastEpoch, c.lastEpoch + 1);
    c.steps.forEach((expected, i) => {
      if (c.setLr && c.setLr[0] === i) c.setLr[1].forEach((lr, g) => (opt.paramGroups[g].lr = lr));
      const returned = sched.step();
      assertLrs(c, lrsOf(opt), expected.lrs, `step ${i + 1}`);
      assert.deepEqual(returned, lrsOf(opt));
      assert.equal(sched.lastEpoch, expected.lastEpoch, `${c.name} step ${i + 1}: lastEpoch`);
    });
  });
}

// Resume: run k steps, save the scheduler's and the "optimizer's" state through JSON (as a
// checkpoint would), rebuild both from scratch, load, and finish. The result must be identical
// to the uninterrupted run, bit for bit, at every split point k.

/** What a checkpoint holds of the optimizer that matters here: each group's lr and initialLr. */
function snapshotGroups(opt: HasParamGroups): string {
  return JSON.stringify(opt.paramGroups);
}

function restoreGroups(opt: HasParamGroups, saved: string): void {
  const groups = JSON.parse(saved) as { lr: number; initialLr?: number }[];
  groups.forEach((g, i) => Object.assign(opt.paramGroups[i], g));
}

for (const c of plateauCases) {
  Deno.test(`ReduceLROnPlateau resumes identically from stateDict: ${c.name}`, () => {
    const straight = makeOptimizer(c.initialLrs);
    const straightSched = new ReduceLROnPlateau(straight, plateauOptions(c.kwargs));
    const trace = c.metrics.map((m) => (straightSched.step(m), lrsOf(straight)));
    for (let k = 0; k <= c.metrics.length; k++) {
      const first = makeOptimizer(c.initialLrs);
      const firstSched = new ReduceLROnPlateau(first, plateauOptions(c.kwargs));
      for (const m of c.metrics.slice(0, k)) firstSched.step(m);
      const savedSched = JSON.stringify(firstSched.stateDict());
      const savedGroups = snapshotGroups(first);

      // A fresh run whose constructor arguments differ: the state dict must carry them all.
      const resumed = makeOptimizer(c.initialLrs.map(() => 123));
      const resumedSched = new ReduceLROnPlateau(resumed, { factor: 0.9, patience: 99 });
      restoreGroups(resumed, savedGroups);
      resumedSched.loadStateDict(JSON.parse(savedSched));
      assert.deepEqual(resumedSched.stateDict(), JSON.parse(savedSched));
      c.metrics.slice(k).forEach((m, i) => {
        resumedSched.step(m);
        assert.deepEqual(
          lrsOf(resumed),
          trace[k + i],
          `${c.name}: resumed after ${k}, step ${k + i + 1}`,
        );
      });
    }
  });
}

for (const c of epochCases) {
  Deno.test(`${c.scheduler} resumes identically from stateDict: ${c.name}`, () => {
    const setLrIfDue = (opt: HasParamGroups, i: number) => {
      if (c.setLr && c.setLr[0] === i) c.setLr[1].forEach((lr, g) => (opt.paramGroups[g].lr = lr));
    };
    const straight = makeEpochOptimizer(c);
    const straightSched = makeEpochScheduler(c, straight);
    const trace = c.steps.map((
      _,
      i,
    ) => (setLrIfDue(straight, i), straightSched.step(), lrsOf(straight)));
    for (let k = 0; k <= c.steps.length; k++) {
      const first = makeEpochOptimizer(c);
      const firstSched = makeEpochScheduler(c, first);
      for (let i = 0; i < k; i++) setLrIfDue(first, i), firstSched.step();
      const savedSched = JSON.stringify(firstSched.stateDict());
      const savedGroups = snapshotGroups(first);

      // PyTorch's resume order: new optimizer, new scheduler (epoch 0), then load both states.
      const resumed = makeOptimizer(c.initialLrs);
      const resumedSched = c.scheduler === "StepLR"
        ? new StepLR(resumed, { stepSize: 1, gamma: 0.5 })
        : new CosineAnnealingLR(resumed, { tMax: 2 });
      restoreGroups(resumed, savedGroups);
      resumedSched.loadStateDict(JSON.parse(savedSched));
      assert.deepEqual(resumedSched.stateDict(), JSON.parse(savedSched));
      for (let i = k; i < c.steps.length; i++) {
        setLrIfDue(resumed, i);
        resumedSched.step();
        assert.deepEqual(lrsOf(resumed), trace[i], `${c.name}: resumed after ${k}, step ${i + 1}`);
      }
    }
  });
}

Deno.test("ReduceLROnPlateau stateDict is plain JSON, Infinity included", () => {
  const opt = makeOptimizer([0.1]);
  const min = new ReduceLROnPlateau(opt);
  const state = min.stateDict();
  assert.equal(state.best, "Infinity"); // nothing seen yet: best is the worst value for "min"
  assert.deepEqual(JSON.parse(JSON.stringify(state)), state);
  const max = new ReduceLROnPlateau(opt, { mode: "max" });
  assert.equal(max.stateDict().best, "-Infinity");
  max.loadStateDict(JSON.parse(JSON.stringify(min.stateDict())));
  assert.equal(max.mode, "min");
  assert.equal(max.best, Infinity);
});

Deno.test("ReduceLROnPlateau rejects the arguments PyTorch rejects", () => {
  const opt = makeOptimizer([0.1, 0.01]);
  assert.throws(() => new ReduceLROnPlateau(opt, { factor: 1 }), /factor should be < 1\.0/);
  assert.throws(() => new ReduceLROnPlateau(opt, { factor: 1.5 }), /factor should be < 1\.0/);
  assert.throws(
    () => new ReduceLROnPlateau(opt, { mode: "mean" as any }),
    /mode "mean" is unknown/,
  );
  assert.throws(
    () => new ReduceLROnPlateau(opt, { thresholdMode: "pct" as any }),
    /threshold mode "pct"/,
  );
  assert.throws(() => new ReduceLROnPlateau(opt, { minLr: [0.001] }), /expected 2 min_lrs.*got 1/);
  assert.throws(
    () => new ReduceLROnPlateau(opt, { patience: "3" as any }),
    /patience must be a number/,
  );
  assert.throws(() => new ReduceLROnPlateau({} as any), /paramGroups array/);
  const sched = new ReduceLROnPlateau(opt);
  assert.throws(() => sched.step(undefined as any), /metric must be a number/);
  assert.throws(
    () =>
      sched.loadStateDict(new StepLR(makeOptimizer([1, 1]), { stepSize: 1 }).stateDict() as any),
    /belongs to "StepLR"/,
  );
  // A bad state dict leaves the scheduler as it was.
  const before = sched.stateDict();
  assert.throws(() => sched.loadStateDict({ ...before, minLrs: [0] }), /minLrs has 1 entries/);
  assert.deepEqual(sched.stateDict(), before);
  // Groups added after construction would silently go unscheduled; say so instead.
  opt.paramGroups.push({ lr: 1 });
  assert.throws(() => sched.step(1), /now has 3 parameter groups.*set up for 2/);
});

Deno.test("ReduceLROnPlateau.reset forgets the best value but keeps the lrs", () => {
  const opt = makeOptimizer([0.1]);
  const sched = new ReduceLROnPlateau(opt, { patience: 0, factor: 0.5 });
  sched.step(1);
  sched.step(2); // no improvement, patience 0: cut
  assert.deepEqual(lrsOf(opt), [0.05]);
  sched.reset();
  assert.equal(sched.best, Infinity);
  assert.equal(sched.numBadEpochs, 0);
  assert.deepEqual(sched.step(3), []); // 3 is an improvement on nothing
  assert.deepEqual(lrsOf(opt), [0.05]);
});

Deno.test("epoch schedulers record initialLr once and need it to resume", () => {
  const opt = makeOptimizer([0.1, 0.02]);
  new StepLR(opt, { stepSize: 2, gamma: 0.5 });
  assert.deepEqual(opt.paramGroups.map((g) => g.initialLr), [0.1, 0.02]);
  opt.paramGroups[0].lr = 0.7;
  // A second scheduler on the same optimizer keeps the recorded initial lrs, like setdefault.
  const cosine = new CosineAnnealingLR(opt, { tMax: 4 });
  assert.deepEqual(cosine.baseLrs, [0.1, 0.02]);
  assert.throws(
    () => new StepLR(makeOptimizer([0.1]), { stepSize: 1, lastEpoch: 3 }),
    /paramGroups\[0\]\.initialLr is not set/,
  );
});

Deno.test("epoch schedulers reject arguments that cannot work", () => {
  const opt = makeOptimizer([0.1]);
  assert.throws(() => new StepLR(opt, { stepSize: 0 }), /stepSize must be an integer >= 1/);
  assert.throws(() => new StepLR(opt, { stepSize: 1.5 }), /stepSize must be an integer >= 1/);
  assert.throws(() => new StepLR(opt, { stepSize: 2, gamma: NaN }), /gamma must be a number/);
  assert.throws(() => new CosineAnnealingLR(opt, { tMax: 0 }), /tMax must be an integer >= 1/);
  assert.throws(
    () => new CosineAnnealingLR(opt, { tMax: 5, lastEpoch: -2 }),
    /lastEpoch must be an integer >= -1/,
  );
  // A failed construction leaves the optimizer untouched.
  assert.equal(opt.paramGroups[0].initialLr, undefined);
  const step = new StepLR(opt, { stepSize: 3 });
  assert.throws(
    () =>
      step.loadStateDict(
        new CosineAnnealingLR(makeOptimizer([0.1]), { tMax: 3 }).stateDict() as any,
      ),
    /belongs to "CosineAnnealingLR"/,
  );
  assert.throws(
    () => step.loadStateDict({ ...step.stateDict(), baseLrs: [0.1, 0.1] }),
    /baseLrs has 2 entries/,
  );
});
