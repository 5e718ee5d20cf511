import assert from "node:assert/strict";
import { formatDuration, memorySink, ProgressBar } from "../../cli/progress.ts";

Deno.test("progress on a terminal: redrawn in place with bar, metrics, speed and ETA", () => {
  let t = 0;
  const sink = memorySink(true);
  const bar = new ProgressBar({ label: "epoch 1/2", total: 4, sink, now: () => t });
  t = 2000;
  bar.update(1, { loss: 0.5, accuracy: 0.25, imagesPerSecond: 16 });
  bar.finish();
  const text = sink.text();
  assert.ok(text.startsWith("\repoch 1/2  [######------------------]  1/4"), JSON.stringify(text));
  assert.ok(
    text.includes("loss 0.5000  acc 25.0%  16.0 img/s  ETA 0:06\x1b[K"),
    JSON.stringify(text),
  );
  assert.ok(text.endsWith("\r\x1b[K"), "finish() clears the line");
  assert.ok(!text.includes("\n"));
});

Deno.test("progress off a terminal: a plain line at most every lineInterval seconds", () => {
  let t = 0;
  const sink = memorySink(false);
  const bar = new ProgressBar({
    label: "epoch 1/1",
    total: 100,
    sink,
    lineInterval: 10,
    now: () => t,
  });
  for (let i = 1; i <= 100; i++) {
    t = i * 500; // 0.5 s per batch: 50 s in all
    bar.update(i, { loss: 1 });
  }
  bar.finish();
  const lines = sink.text().split("\n").filter(Boolean);
  assert.equal(lines.length, 4, sink.text()); // at 10, 20, 30, 40 s; none for the last batch
  assert.ok(lines.every((l) => !l.includes("\r") && !l.includes("[#")));
  assert.equal(lines[0], "epoch 1/1  20/100  loss 1.0000  ETA 0:40");
});

Deno.test("formatDuration", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(75), "1:15");
  assert.equal(formatDuration(3725), "1:02:05");
});

Deno.test("progress after a resume: the ETA counts only the batches trained since, not the skipped", () => {
  let t = 0;
  const fake = new ProgressBar({
    label: "epoch 3/5",
    total: 100,
    sink: memorySink(),
    start: 50,
    now: () => t,
  });
  t = 10_000; // 10 batches in 10 s after skipping 50: 40 left take 40 s
  assert.equal(fake.status(60, {}), "epoch 3/5  60/100  ETA 0:40");
  assert.ok(!fake.status(50, {}).includes("ETA"), "no ETA before a batch is trained");
  assert.ok(fake.status(100, {}).endsWith("100/100"), "no ETA once done");
});
