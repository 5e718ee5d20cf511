import assert from "node:assert/strict";
import { atomicWriteFile, isTempName } from "../../nn/io/atomic.ts";

const text = (s: string) => new TextEncoder().encode(s);
/** The temporary files atomicWriteFile has in `dir`. */
const temps = (dir: string) => [...Deno.readDirSync(dir)].filter((e) => isTempName(e.name));

Deno.test("atomic: writes, replaces, and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ckpt.bin`;
  await atomicWriteFile(path, text("first"));
  assert.equal(await Deno.readTextFile(path), "first");
  await atomicWriteFile(path, [text("sec"), text("ond")]);
  assert.equal(await Deno.readTextFile(path), "second");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["ckpt.bin"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("atomic: a failure mid-write keeps the previous file and removes the temporary", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ckpt.bin`;
  await atomicWriteFile(path, text("old"));
  async function* failing() {
    yield text("partial");
    throw new Error("disk full (simulated)");
  }
  await assert.rejects(
    atomicWriteFile(path, failing()),
    /ckpt\.bin: writing failed \(disk full \(simulated\)\); the previous file is unchanged/,
  );
  assert.equal(await Deno.readTextFile(path), "old");
  assert.deepEqual(temps(dir), []);
  await assert.rejects(
    atomicWriteFile(`${dir}/no/such/dir/x.bin`, text("x")),
    /x\.bin: cannot create the temporary file/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("atomic: kill -9 in the middle of a write leaves the previous file intact", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ckpt.bin`;
  await atomicWriteFile(path, text("previous checkpoint"));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./atomic_child.ts", import.meta.url).pathname, path],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("writing")) {
    const { value, done } = await reader.read();
    assert.ok(!done, "the child exited before writing");
    out += value;
  }
  // The child is now inside the write: the temporary file holds its first chunk.
  const [tmp] = temps(dir);
  assert.equal((await Deno.stat(`${dir}/${tmp.name}`)).size, 1 << 20);
  child.kill("SIGKILL");
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL");
  await reader.cancel();
  assert.equal(await Deno.readTextFile(path), "previous checkpoint");
  // The next write uses a temporary file of its own and replaces the target; the stale
  // one is left (a run directory removes such files when it is reopened).
  await atomicWriteFile(path, text("next"));
  assert.equal(await Deno.readTextFile(path), "next");
  assert.deepEqual(temps(dir).map((e) => e.name), [tmp.name]);
  await Deno.remove(dir, { recursive: true });
});
