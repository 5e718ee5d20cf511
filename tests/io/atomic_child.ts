// Helper process for atomic_test.ts: starts an atomic write of Deno.args[0],
// says "writing" once the first chunk is in the temporary file, then hangs
// until the test kills it.
import { atomicWriteFile } from "../../nn/io/atomic.ts";

async function* chunks() {
  yield new Uint8Array(1 << 20).fill(0x4e);
  console.log("writing");
  await new Promise(() => setInterval(() => {}, 1000));
}

await atomicWriteFile(Deno.args[0], chunks());
