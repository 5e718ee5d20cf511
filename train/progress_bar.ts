// The per-epoch progress display: a bar redrawn in place on a terminal, or, when the sink is
// a file or a pipe (CI logs), a plain line every few seconds so logs stay readable. Text only,
// no Deno: train/text_report.ts draws it from fit's events; cli/progress.ts gives it stdout.

/** Where a progress bar is drawn: a terminal or a log. */
export interface ProgressSink {
  /** Writes text as is (no newline added). */
  write(text: string): void;
  /** Whether the sink is a terminal that understands \r and the erase-line escape. */
  readonly isTerminal: boolean;
}

/** A sink that keeps everything written (tests, quiet library use). */
export function memorySink(isTerminal = false): ProgressSink & { text: () => string } {
  const parts: string[] = [];
  return { write: (t) => void parts.push(t), isTerminal, text: () => parts.join("") };
}

export interface ProgressFields {
  /** Mean loss of the epoch so far. */
  loss?: number;
  /** Accuracy of the epoch so far, in [0, 1]. */
  accuracy?: number;
  imagesPerSecond?: number;
}

export interface ProgressOptions {
  label: string;
  total: number;
  sink: ProgressSink;
  /**
   * Items already done when the bar starts (batches a resumed epoch skips): they took no time
   * now, so the speed and ETA count only those done since (default 0).
   */
  start?: number;
  /** Seconds between plain lines when the sink is not a terminal (default 10). */
  lineInterval?: number;
  /** Clock in ms, for tests (default performance.now). */
  now?: () => number;
}

export class ProgressBar {
  /** What the bar counts ("epoch 2/8"). */
  readonly label: string;
  readonly #o: Required<ProgressOptions>;
  readonly #start: number;
  #lastLine: number;
  #drawn = false;

  constructor(options: ProgressOptions) {
    this.#o = { lineInterval: 10, now: () => performance.now(), start: 0, ...options };
    this.#start = this.#o.now();
    this.label = options.label;
    this.#lastLine = this.#start;
  }

  /** Reports `done` of `total` batches finished. */
  update(done: number, fields: ProgressFields = {}): void {
    const { sink, lineInterval, now } = this.#o;
    const t = now();
    const status = this.status(done, fields, t);
    if (sink.isTerminal) {
      sink.write(`\r${status}\x1b[K`);
      this.#drawn = true;
    } else if (t - this.#lastLine >= lineInterval * 1000 && done < this.#o.total) {
      sink.write(`${status}\n`);
      this.#lastLine = t;
    }
  }

  /** Clears the bar (on a terminal) so that a summary line can take its place. */
  finish(): void {
    if (this.#drawn) this.#o.sink.write("\r\x1b[K");
    this.#drawn = false;
  }

  /** The status text: label, bar (terminal only), counts, metrics, speed and ETA. */
  status(done: number, f: ProgressFields, t = this.#o.now()): string {
    const { label, total, sink } = this.#o;
    const parts = [label];
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    if (sink.isTerminal) {
      const width = 24, full = Math.round(frac * width);
      parts.push(`[${"#".repeat(full)}${"-".repeat(width - full)}]`);
    }
    parts.push(`${done}/${total}`);
    if (f.loss !== undefined && Number.isFinite(f.loss)) parts.push(`loss ${f.loss.toFixed(4)}`);
    if (f.accuracy !== undefined && Number.isFinite(f.accuracy)) {
      parts.push(`acc ${(100 * f.accuracy).toFixed(1)}%`);
    }
    if (f.imagesPerSecond !== undefined && Number.isFinite(f.imagesPerSecond)) {
      parts.push(`${f.imagesPerSecond.toFixed(1)} img/s`);
    }
    const elapsed = (t - this.#start) / 1000;
    const doneHere = done - this.#o.start;
    if (doneHere > 0 && done < total) {
      parts.push(`ETA ${formatDuration(elapsed * (total - done) / doneHere)}`);
    }
    return parts.join("  ");
  }
}

/** 75 → "1:15", 3725 → "1:02:05". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(r).padStart(2, "0")}`;
}
