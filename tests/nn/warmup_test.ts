// LinearLR and the warmup-then-cosine schedule SequentialLR([LinearLR, CosineAnnealingLR])
// against PyTorch 1.13's lr traces (tests/fixtures/sched/make_warmup_fixture.py), and a resume
// through the state dicts in the middle of the warmup and of the cosine.

import assert from "node:assert/strict";
import { CosineAnnealingLR, LinearLR, SequentialLR } from "../../nn/schedulers.ts";

interface Case {
  scheduler: "LinearLR" | "SequentialLR";
  lrs: number[];
  kwargs: Record<string, number>;
  start: number[];
  trace: number[][];
}

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/sched/warmup_traces.json", import.meta.url)),
) as { cases: Case[] };

/** Relative error allowed: none. The same operations in the same order give the same doubles
 * (measured: bit-identical on every step of every case). */
const REL = 0;

function close(got: number[], want: number[], where: string): void {
  got.forEach((g, i) => {
    const w = want[i];
    assert.ok(Math.abs(g - w) <= REL * Math.abs(w), `${where}[${i}]: got ${g}, PyTorch ${w}`);
  });
}

function build(c: Case) {
  const opt = { paramGroups: c.lrs.map((lr) => ({ lr }) as { lr: number; initialLr?: number }) };
  const k = c.kwargs;
  if (c.scheduler === "LinearLR") {
    const s = new LinearLR(opt, {
      startFactor: k.start_factor,
      endFactor: k.end_factor,
      totalIters: k.total_iters,
    });
    return { opt, sched: s, make: () => build(c) };
  }
  const warm = new LinearLR(opt, { startFactor: k.start_factor, totalIters: k.warmup });
  const cos = new CosineAnnealingLR(opt, { tMax: k.T_max, etaMin: k.eta_min });
  return { opt, sched: new SequentialLR(opt, [warm, cos], [k.warmup]), make: () => build(c) };
}

for (const c of fixture.cases) {
  Deno.test(`${c.scheduler} ${JSON.stringify(c.kwargs)} matches PyTorch step by step`, () => {
    const { opt, sched } = build(c);
    close(opt.paramGroups.map((g) => g.lr), c.start, "after construction");
    c.trace.forEach((want, i) => {
      sched.step();
      close(opt.paramGroups.map((g) => g.lr), want, `step ${i + 1}`);
    });
  });

  Deno.test(`${c.scheduler} ${JSON.stringify(c.kwargs)} resumes from its state dict`, () => {
    for (const at of [1, Math.floor(c.trace.length / 2), c.trace.length - 2]) {
      const a = build(c);
      for (let i = 0; i < at; i++) a.sched.step();
      const groups = JSON.parse(JSON.stringify(a.opt.paramGroups));
      const saved = JSON.parse(JSON.stringify(a.sched.stateDict()));
      const b = build(c);
      b.opt.paramGroups.forEach((g, i) => Object.assign(g, groups[i]));
      b.sched.loadStateDict(saved);
      for (let i = at; i < c.trace.length; i++) {
        b.sched.step();
        close(b.opt.paramGroups.map((g) => g.lr), c.trace[i], `resumed at ${at}, step ${i + 1}`);
      }
    }
  });
}

Deno.test("LinearLR and SequentialLR refuse bad arguments by name", () => {
  const opt = { paramGroups: [{ lr: 0.1 }] };
  assert.throws(() => new LinearLR(opt, { startFactor: 0 }), /LinearLR: startFactor/);
  assert.throws(() => new LinearLR(opt, { totalIters: 0 }), /LinearLR: totalIters/);
  const w = new LinearLR(opt, {});
  assert.throws(() => new SequentialLR(opt, [w], [2]), /SequentialLR: expected 0 milestones/);
});
