// Real processes: `deno run -A cli.ts train` on tiny data, stopped with SIGINT (Ctrl-C) or
// SIGTERM while it trains. It must finish the batch, write a checkpoint, say how to resume and
// exit with 130 (SIGINT) or 143 (SIGTERM); the first run then resumes in-process.

import assert from "node:assert/strict";
import { memoryIO } from "../../cli/io.ts";
import { runCli } from "../../cli/main.ts";
import { loadCheckpoint } from "../../nn/io/checkpoint.ts";
import { initGpu } from "../../kernels/device.ts";
import { writeImageFolder } from "../train/tiny_data.ts";

const root = decodeURIComponent(new URL("../../", import.meta.url).pathname);

async function rowsIn(path: string): Promise<number> {
  try {
    return (await Deno.readTextFile(path)).trim().split("\n").length - 1;
  } catch {
    return 0;
  }
}

/** Starts a long training run in a process, sends `signal` once it has trained 2 batches. */
async function trainAndSignal(tmp: string, name: string, signal: Deno.Signal) {
  const data = await writeImageFolder(`${tmp}/data-${name}`, {
    classes: ["x", "y"],
    perClass: 8,
    size: 16,
  });
  const out = `${tmp}/runs`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${root}cli.ts`,
      "train",
      "--data",
      data,
      "--image-size",
      "16",
      "--keep-stages",
      "1",
      "--batch-size",
      "4",
      "--epochs",
      "500",
      "--log-every",
      "1",
      "--out",
      out,
      "--name",
      name,
    ],
    cwd: root,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  const deadline = Date.now() + 60_000;
  while ((await rowsIn(`${out}/${name}/metrics_iter.csv`)) < 2) {
    assert.ok(Date.now() < deadline, "the training process did not start training within 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill(signal);
  const { code, stdout, stderr } = await output;
  const text = new TextDecoder().decode(stdout), err = new TextDecoder().decode(stderr);
  return { code, text, err, out };
}

Deno.test("cli.ts train as a process: Ctrl-C writes a checkpoint and exits 130; --resume continues", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "cli_subprocess_test_" });
  const { code, text, err, out } = await trainAndSignal(tmp, "sig", "SIGINT");
  assert.equal(code, 130, text + err);
  assert.match(err, /interrupted: stopping after this batch and writing a checkpoint/);
  assert.match(
    text,
    /stopped: checkpoint written to .*sig\/last\.safetensors; continue with: deno run -A cli\.ts train --resume/,
  );
  const meta = (await loadCheckpoint(`${out}/sig/last.safetensors`)).meta as {
    epoch: number;
    iteration: number;
  };
  assert.ok(meta.iteration >= 2);

  await initGpu();
  const io = memoryIO();
  const target = String(meta.epoch + 1);
  assert.equal(
    await runCli(["train", "--resume", `${out}/sig`, "--epochs", target], io),
    0,
    io.text(),
  );
  assert.match(io.text(), new RegExp(`epoch ${target}/${target} `));
  assert.equal(await rowsIn(`${out}/sig/metrics_epoch.csv`), meta.epoch + 1);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("cli.ts train as a process: SIGTERM is handled as Ctrl-C, checkpoint written, exit 143", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "cli_subprocess_test_" });
  const { code, text, err, out } = await trainAndSignal(tmp, "term", "SIGTERM");
  assert.equal(code, 143, text + err);
  assert.match(err, /terminated \(SIGTERM\): stopping after this batch and writing a checkpoint/);
  assert.match(text, /stopped: checkpoint written to .*term\/last\.safetensors/);
  const meta = (await loadCheckpoint(`${out}/term/last.safetensors`)).meta as { iteration: number };
  assert.ok(meta.iteration >= 2, "the checkpoint holds the batches trained before the signal");
  await Deno.remove(tmp, { recursive: true });
});
