// Where a command's output goes: stdout/stderr for the real CLI, memory for in-process tests.

import { memorySink, type ProgressSink, stdoutSink } from "./progress.ts";

export interface CliIO {
  /** A line of normal output. */
  out(line: string): void;
  /** A line of error or warning output. */
  err(line: string): void;
  /** The progress display's target. */
  sink: ProgressSink;
  /** Whether the command may install a Ctrl-C handler (the real CLI) or not (tests). */
  handleSignals: boolean;
}

export function consoleIO(): CliIO {
  return {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    sink: stdoutSink(),
    handleSignals: true,
  };
}

/** Collects output in memory; `text()` returns stdout and stderr lines interleaved. */
export function memoryIO(): CliIO & { lines: string[]; errors: string[]; text(): string } {
  const lines: string[] = [], errors: string[] = [], all: string[] = [];
  return {
    out: (l) => void (lines.push(l), all.push(l)),
    err: (l) => void (errors.push(l), all.push(l)),
    sink: memorySink(),
    handleSignals: false,
    lines,
    errors,
    text: () => all.join("\n"),
  };
}
