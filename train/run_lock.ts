// The lock of a run directory while a process trains in it: `<run>/.lock`, created
// exclusively (so of two processes exactly one gets it), holding the owner's pid. A second
// `train --resume` of the same run is refused; a lock whose process is gone (killed with
// -9, or the machine rebooted) is reported with what to do, never taken over silently,
// since the pid may have been reused or the lock may belong to another machine.

export const LOCK_NAME = ".lock";

interface LockInfo {
  pid: number;
  hostname: string;
  started: string;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "";
  }
}

/** Whether a process with this pid runs on this machine (null: cannot tell). */
function processAlive(pid: number): boolean | null {
  try {
    Deno.statSync("/proc/self");
  } catch {
    return null; // no /proc: cannot tell
  }
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

export class RunLock {
  private released = false;
  private constructor(readonly path: string) {}

  /** Takes the lock of run directory `dir`, or throws saying who holds it and what to do. */
  static async acquire(dir: string): Promise<RunLock> {
    const path = `${dir}/${LOCK_NAME}`;
    const info: LockInfo = {
      pid: Deno.pid,
      hostname: hostname(),
      started: new Date().toISOString(),
    };
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { write: true, createNew: true });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) throw await lockedError(dir, path);
      throw new Error(
        `${dir}: cannot create the run's lock file ${path} (${(e as Error).message})`,
      );
    }
    try {
      await file.write(new TextEncoder().encode(JSON.stringify(info) + "\n"));
    } finally {
      file.close();
    }
    return new RunLock(path);
  }

  /** Removes the lock (idempotent). */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      Deno.removeSync(this.path);
    } catch { /* already gone */ }
  }
}

async function lockedError(dir: string, path: string): Promise<Error> {
  let owner: Partial<LockInfo> = {};
  try {
    const st = await Deno.lstat(path);
    if (st.isFile && st.size < 4096) owner = JSON.parse(await Deno.readTextFile(path));
  } catch { /* unreadable: reported below without a pid */ }
  const pid = Number.isInteger(owner.pid) ? owner.pid! : null;
  const sameHost = !owner.hostname || owner.hostname === hostname();
  const alive = pid !== null && sameHost ? processAlive(pid) : null;
  if (alive === false) {
    return new Error(
      `run directory ${dir} has a stale lock: ${path} names process ${pid}, which is no ` +
        `longer running (killed, or the machine restarted). If no other process uses this ` +
        `run, delete ${path} and run the command again`,
    );
  }
  const who = pid === null
    ? "another process"
    : `process ${pid}${owner.hostname && !sameHost ? ` on ${owner.hostname}` : ""}`;
  return new Error(
    `run directory ${dir} is in use by ${who} (lock file ${path}); wait for it to finish ` +
      `or stop it, or train into another --name`,
  );
}
