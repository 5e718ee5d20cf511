// Ctrl-C during training: the first press asks the trainer to stop after the current batch
// (it then writes a checkpoint and returns); a second press exits at once.

import type { StopFlag } from "../train/trainer.ts";

export async function withInterrupt<T>(
  stop: StopFlag,
  notify: (line: string) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const onSignal = () => {
    if (stop.requested) {
      notify("\ninterrupted again: exiting without a checkpoint of this batch");
      Deno.exit(130);
    }
    stop.requested = true;
    notify("\nstopping after this batch and writing a checkpoint (Ctrl-C again to quit at once)");
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    return await fn();
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}
