// Ctrl-C (SIGINT) or SIGTERM during training: the first signal asks the trainer to stop after
// the current batch (it then writes a checkpoint and returns); a second one exits at once.
// The exit code says which signal stopped the run, as a shell reports a process killed by it:
// 130 (128 + 2) for Ctrl-C, 143 (128 + 15) for SIGTERM, which is what supervisors (systemd,
// docker stop, Kubernetes, CI runners) send, so they see "terminated on request", checkpoint
// written, rather than an error.

import type { StopFlag } from "../train/trainer.ts";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;
type StopSignal = typeof SIGNALS[number];

/** A stop flag that also records which signal set it. */
export interface SignalStop extends StopFlag {
  signal: StopSignal | null;
}

/** A fresh flag: no stop requested. */
export function signalStop(): SignalStop {
  return { requested: false, signal: null };
}

/** The exit code of a run stopped by `stop`'s signal: 143 for SIGTERM, else 130. */
export function interruptExitCode(stop: SignalStop): number {
  return stop.signal === "SIGTERM" ? 143 : 130;
}

/** Runs `fn` with SIGINT and SIGTERM turned into `stop` requests. */
export async function withInterrupt<T>(
  stop: SignalStop,
  notify: (line: string) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const listeners = SIGNALS.map((signal) => {
    const onSignal = () => {
      const what = signal === "SIGINT" ? "interrupted" : "terminated (SIGTERM)";
      if (stop.requested) {
        notify(`\n${what} again: exiting without a checkpoint of this batch`);
        Deno.exit(interruptExitCode({ ...stop, signal: stop.signal ?? signal }));
      }
      stop.requested = true;
      stop.signal = signal;
      notify(
        `\n${what}: stopping after this batch and writing a checkpoint ` +
          `(Ctrl-C or SIGTERM again to quit at once)`,
      );
    };
    Deno.addSignalListener(signal, onSignal);
    return [signal, onSignal] as const;
  });
  try {
    return await fn();
  } finally {
    for (const [signal, onSignal] of listeners) Deno.removeSignalListener(signal, onSignal);
  }
}
