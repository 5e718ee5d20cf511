// Hostile cases, class 1: nothing is written outside the run directory and no run is
// overwritten (--name, exclusive creation, planted symlinks, the lock, outputs vs inputs);
// class 2: a diverging run stops and never saves a non-finite model.

import assert from "node:assert/strict";
import { decodeCheckpoint, saveCheckpoint } from "../../nn/io/checkpoint.ts";
import { nonFiniteTensors } from "../../nn/io/finite.ts";
import { gpuReady } from "../helpers.ts";
import { writeImageFolder } from "../train/tiny_data.ts";
import { RunDir } from "../../train/run_dir.ts";
import { arena, cli, expectCli } from "./helpers.ts";

await gpuReady;

const TINY = ["--image-size", "16", "--keep-stages", "1", "--batch-size", "4", "--epochs", "1"];

async function tinyRun(a: { scratch: string }, name = "base") {
  const data = await writeImageFolder(`${a.scratch}/data`, { perClass: 4, size: 16 });
  const out = `${a.scratch}/runs`;
  const r = await cli(["train", "--data", data, ...TINY, "--out", out, "--name", name]);
  assert.equal(r.code, 0, r.text);
  return { data, out, run: `${out}/${name}` };
}

Deno.test("hostile 1: --name must be one plain path component, checked before anything is made", async () => {
  const a = await arena();
  const data = await writeImageFolder(`${a.scratch}/data`, { perClass: 4, size: 16 });
  for (const name of ["..", ".", "a/b", "../victim/run", "x\\y", "tab\there", "nl\nx"]) {
    await expectCli(
      ["train", "--data", data, ...TINY, "--out", `${a.victim}/newsub`, "--name", name],
      2,
      /--name must be one plain path component/,
    );
  }
  await assert.rejects(Deno.stat(`${a.victim}/newsub`), Deno.errors.NotFound);
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 1: an existing run directory is never reused by a new run", async () => {
  const a = await arena();
  const data = await writeImageFolder(`${a.scratch}/data`, { perClass: 4, size: 16 });
  await expectCli(
    ["train", "--data", data, ...TINY, "--out", a.victim, "--name", "run"],
    2,
    /run directory .*victim\/run already exists; pick another --name, or --resume it/,
  );
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 1: symlinks planted in a run directory are replaced, never written through", async () => {
  const a = await arena();
  const { run } = await tinyRun(a);
  const targets = ["best.safetensors", "summary.json", "loss_iter.svg", "config.json"];
  for (const f of targets) {
    await Deno.remove(`${run}/${f}`).catch(() => {});
    await Deno.symlink(`${a.victim}/secret.txt`, `${run}/${f}`);
  }
  // the temporary names of the previous version, planted too
  await Deno.symlink(`${a.victim}/run/last.safetensors`, `${run}/.last.safetensors.partial`);
  await Deno.symlink(`${a.victim}/run/config.json`, `${run}/.summary.json.partial`);
  await expectCli(["train", "--resume", run, "--epochs", "2"], 0, /done: 2 epochs/);
  for (const f of ["best.safetensors", "summary.json", "loss_iter.svg"]) {
    assert.ok((await Deno.lstat(`${run}/${f}`)).isFile, `${f} is a regular file again`);
  }
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 1: a planted metrics CSV symlink makes resume refuse, naming the file", async () => {
  const a = await arena();
  const { run } = await tinyRun(a);
  await Deno.remove(`${run}/metrics_epoch.csv`);
  await Deno.symlink(`${a.victim}/run/metrics_epoch.csv`, `${run}/metrics_epoch.csv`);
  await expectCli(
    ["train", "--resume", run, "--epochs", "2"],
    2,
    /metrics_epoch\.csv is not a regular file \(a symlink\)/,
  );
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 1: a locked run refuses a second resume; a stale lock is reported", async () => {
  const a = await arena();
  const { run } = await tinyRun(a);
  await Deno.writeTextFile(
    `${run}/.lock`,
    JSON.stringify({ pid: Deno.pid, hostname: Deno.hostname() }),
  );
  await expectCli(
    ["train", "--resume", run, "--epochs", "2"],
    2,
    new RegExp(`is in use by process ${Deno.pid} \\(lock file .*\\.lock\\)`),
  );
  await Deno.writeTextFile(
    `${run}/.lock`,
    JSON.stringify({ pid: 2 ** 22 + 7, hostname: Deno.hostname() }),
  );
  await expectCli(
    ["train", "--resume", run, "--epochs", "2"],
    2,
    /has a stale lock: .*names process 4194311, which is no longer running.*delete .*\.lock/,
  );
  await Deno.remove(`${run}/.lock`);
  await expectCli(["train", "--resume", run, "--epochs", "2"], 0, /done: 2 epochs/);
  await assert.rejects(Deno.stat(`${run}/.lock`), Deno.errors.NotFound); // released at the end
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 1: eval --json never overwrites an input of the same command", async () => {
  const a = await arena();
  const { run, data } = await tinyRun(a);
  const before = await Deno.readFile(`${run}/best.safetensors`);
  await Deno.symlink(`${run}/best.safetensors`, `${a.scratch}/alias.json`);
  for (const target of [`${run}/best.safetensors`, `${a.scratch}/alias.json`]) {
    await expectCli(
      ["eval", "--checkpoint", `${run}/best.safetensors`, "--json", target],
      2,
      /--json .* is the --checkpoint file of this command/,
    );
  }
  await expectCli(
    ["eval", "--checkpoint", `${run}/best.safetensors`, "--data", data, "--json", data],
    2,
    /--json .* is the --data file of this command/,
  );
  assert.deepEqual(await Deno.readFile(`${run}/best.safetensors`), before);
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 2: --lr 1e6 stops with a divergence error and saves no non-finite model", async () => {
  const a = await arena();
  const data = await writeImageFolder(`${a.scratch}/data`, { perClass: 4, size: 16 });
  const out = `${a.scratch}/runs`;
  const args = ["train", "--data", data, ...TINY, "--epochs", "3", "--out", out, "--name", "lr"];
  const r = await cli([...args, "--lr", "1e6"]);
  assert.equal(r.code, 1, r.text);
  assert.match(
    r.text,
    /training diverged: .* is (NaN|Infinity|-Infinity) at .*lr 1e\+6.*--lr \(e\.g\. 1e\+5\)/,
  );
  assert.doesNotMatch(r.text, /NaN.*\*best/);
  await assert.rejects(Deno.stat(`${out}/lr/.lock`), Deno.errors.NotFound); // released
  for (const f of ["best.safetensors", "last.safetensors"]) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(`${out}/lr/${f}`);
    } catch {
      continue; // not written at all: fine
    }
    assert.deepEqual(nonFiniteTensors(decodeCheckpoint(bytes).tensors), [], `${f} is finite`);
  }
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 2: weights with NaN/Inf are refused by name; --allow-non-finite-weights loads them", async () => {
  const a = await arena();
  const { run, data } = await tinyRun(a);
  const ckpt = decodeCheckpoint(await Deno.readFile(`${run}/best.safetensors`));
  (ckpt.tensors.get("model.conv1.weight")!.data as Float32Array)[3] = NaN;
  (ckpt.tensors.get("model.fc.bias")!.data as Float32Array)[0] = Infinity;
  const bad = `${a.scratch}/nan.safetensors`;
  await saveCheckpoint(bad, ckpt);
  const base = ["train", "--data", data, ...TINY, "--out", `${a.scratch}/runs`];
  await expectCli(
    [...base, "--name", "w", "--weights", bad],
    2,
    /--weights: .*nan\.safetensors holds 2 non-finite values .*conv1\.weight \(1 of \d+\), fc\.bias \(1 of \d+\).*--allow-non-finite-weights/,
  );
  await expectCli(
    ["eval", "--checkpoint", bad],
    1,
    /holds 2 non-finite values .*conv1\.weight \(1 of/,
  );
  await expectCli(["predict", "--checkpoint", bad, bad], 1, /non-finite values/);
  const allowed = await cli(["eval", "--checkpoint", bad, "--allow-non-finite-weights"]);
  assert.doesNotMatch(allowed.text, /non-finite values/);
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 1: two runs racing for one directory: exactly one creates it, the other is refused", async () => {
  const a = await arena();
  const path = `${a.scratch}/runs/same`;
  const results = await Promise.allSettled([1, 2, 3].map(() => RunDir.create(path, { n: 1 })));
  const made = results.filter((r) => r.status === "fulfilled");
  assert.equal(made.length, 1);
  for (const r of results) {
    if (r.status === "rejected") assert.match(String(r.reason), /already exists/);
  }
  // while it is open its lock refuses a reopen; after close a reopen works and clears temps
  await assert.rejects(RunDir.reopen(path, 0, 0), /is in use by process/);
  (made[0] as PromiseFulfilledResult<RunDir>).value.close();
  await Deno.writeTextFile(`${path}/.last.safetensors.123-abc.partial`, "left by kill -9");
  const again = await RunDir.reopen(path, 0, 0);
  again.close();
  await assert.rejects(
    Deno.stat(`${path}/.last.safetensors.123-abc.partial`),
    Deno.errors.NotFound,
  );
  await a.assertOutsideUnchanged();
  await a.remove();
});
