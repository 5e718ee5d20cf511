// stdout as the sink of the progress display (train/progress_bar.ts, which the CLI's tests and
// commands also reach through here).

import type { ProgressSink } from "../train/progress_bar.ts";

export {
  formatDuration,
  memorySink,
  ProgressBar,
  type ProgressFields,
  type ProgressOptions,
  type ProgressSink,
} from "../train/progress_bar.ts";

/** stdout as a sink. */
export function stdoutSink(): ProgressSink {
  const enc = new TextEncoder();
  return {
    write: (text) => {
      const bytes = enc.encode(text);
      for (let p = 0; p < bytes.length;) p += Deno.stdout.writeSync(bytes.subarray(p));
    },
    isTerminal: Deno.stdout.isTerminal(),
  };
}
