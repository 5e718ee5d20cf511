// The hostile-input suite's harness: each case works in a scratch directory inside a
// parent that also holds a "victim" directory (an existing run, a file outside); the
// parent's contents are hashed before and after, so a case proves that nothing outside
// its scratch directory changed. CLI cases run in-process (runCli, exit code + message)
// or, for hangs and memory bombs, as a child process under a time limit and a memory cap
// (the parent polls the child's resident memory and kills it past the cap).

import assert from "node:assert/strict";
import { memoryIO } from "../../cli/io.ts";
import { runCli } from "../../cli/main.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;

/** A parent directory with `scratch/` (the case's) and `victim/` (must not change). */
export interface Arena {
  parent: string;
  scratch: string;
  victim: string;
  /** Hash of everything in the parent outside scratch/. */
  outsideHash(): Promise<string>;
  /** Asserts that nothing outside scratch/ changed since the arena was made. */
  assertOutsideUnchanged(): Promise<void>;
  remove(): Promise<void>;
}

async function hashTree(dir: string, skip: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (rel: string) => {
    const entries = [];
    for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) entries.push(e);
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (path === skip) continue;
      const info = await Deno.lstat(`${dir}/${path}`);
      if (e.isSymlink) lines.push(`L ${path} -> ${await Deno.readLink(`${dir}/${path}`)}`);
      else if (e.isDirectory) {
        lines.push(`D ${path}`);
        await walk(path);
      } else {
        const bytes = await Deno.readFile(`${dir}/${path}`);
        const h = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        lines.push(`F ${path} ${info.size} ${[...h.slice(0, 8)].join(".")}`);
      }
    }
  };
  await walk("");
  return lines.join("\n");
}

/** A fresh arena whose victim/ holds a few files (and an existing run directory). */
export async function arena(): Promise<Arena> {
  const parent = await Deno.makeTempDir({ prefix: "hostile_" });
  const scratch = `${parent}/scratch`, victim = `${parent}/victim`;
  await Deno.mkdir(scratch);
  await Deno.mkdir(`${victim}/run`, { recursive: true });
  for (const f of ["config.json", "last.safetensors", "best.safetensors", "metrics_epoch.csv"]) {
    await Deno.writeTextFile(`${victim}/run/${f}`, `victim ${f}\n`);
  }
  await Deno.writeTextFile(`${victim}/secret.txt`, "must not change\n");
  const before = await hashTree(parent, "scratch");
  return {
    parent,
    scratch,
    victim,
    outsideHash: () => hashTree(parent, "scratch"),
    async assertOutsideUnchanged() {
      assert.equal(await hashTree(parent, "scratch"), before, "something outside scratch/ changed");
    },
    remove: () => Deno.remove(parent, { recursive: true }),
  };
}

/** Runs `cli.ts` in this process; returns the exit code and all output. */
export async function cli(args: string[]): Promise<{ code: number; text: string }> {
  const io = memoryIO();
  const code = await runCli(args, io);
  return { code, text: io.text() };
}

/** Asserts an exit code and that the output matches `message`. */
export async function expectCli(args: string[], code: number, message: RegExp): Promise<string> {
  const r = await cli(args);
  assert.match(r.text, message, `output of cli.ts ${args.join(" ")}:\n${r.text}`);
  assert.equal(r.code, code, `exit code of cli.ts ${args.join(" ")}: ${r.text}`);
  return r.text;
}

export interface ChildResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Peak resident memory seen while it ran, in MiB. */
  peakMiB: number;
  /** Why the parent killed it: "time" or "memory", or null. */
  killed: "time" | "memory" | null;
  seconds: number;
}

function rssKiB(pid: number): number {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+)/);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs `deno <args>` as a child under a time limit and a memory cap: killed (SIGKILL) when
 * it runs past `seconds` or its resident memory passes `maxMiB`.
 */
export async function child(
  args: string[],
  { seconds = 60, maxMiB = 1024, stdin }: { seconds?: number; maxMiB?: number; stdin?: string } =
    {},
): Promise<ChildResult> {
  const t0 = performance.now();
  const proc = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", NO_COLOR: "1" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = proc.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  let peak = 0;
  let killed: ChildResult["killed"] = null;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssKiB(proc.pid));
    const over = peak > maxMiB * 1024
      ? "memory"
      : (performance.now() - t0) / 1000 > seconds
      ? "time"
      : null;
    if (over && !killed) {
      killed = over;
      try {
        proc.kill("SIGKILL");
      } catch { /* already gone */ }
    }
  }, 20);
  const out = await proc.output();
  clearInterval(timer);
  return {
    code: out.signal ? null : out.code,
    signal: out.signal,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
    peakMiB: Math.round(peak / 1024),
    killed,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** A child running cli.ts with the given arguments. */
export function cliChild(args: string[], limits?: Parameters<typeof child>[1]) {
  return child(["run", "-A", `${ROOT}cli.ts`, ...args], limits);
}
