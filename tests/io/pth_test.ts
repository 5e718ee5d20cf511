import assert from "node:assert/strict";
import { readPth, readPthObject, sniffWeightFile } from "../../nn/io/pth.ts";
import { PICKLE_ATTRS, UnsafePickleError } from "../../nn/io/pickle.ts";
import { isHostTensor } from "../../nn/io/host_tensor.ts";
import { assertStateDict, expectedFor, fixtureBytes } from "./expected.ts";

Deno.test("pth: every dtype reads exactly as PyTorch wrote it (f64/u8/bool widened)", () => {
  assertStateDict(readPth(fixtureBytes("dtypes.pth"), "dtypes.pth"), "dtypes.pth");
});

Deno.test("pth: pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL) reads the same", () => {
  assertStateDict(readPth(fixtureBytes("dtypes_proto4.pth")), "dtypes_proto4.pth");
});

Deno.test("pth: strided views (transposed, sliced, offset, zero stride) are materialised", () => {
  const sd = readPth(fixtureBytes("views.pth"));
  assertStateDict(sd, "views.pth");
  // Four views of one shared storage: each is its own contiguous copy.
  const t = sd.get("transposed")!.data, w = sd.get("whole")!.data;
  assert.notEqual(t.buffer, w.buffer);
  assert.deepEqual([...sd.get("offset_slice")!.data], [2.5, 3, 3.5, 4]);
});

Deno.test("pth: checkpoint dict with 'state_dict' and a 'module.' prefix", () => {
  const name = "checkpoint_state_dict.pth";
  assertStateDict(readPth(fixtureBytes(name), name), name);
  const obj = readPthObject(fixtureBytes(name)) as Map<string, unknown>;
  assert.equal(obj.get("epoch"), 7);
  assert.equal(obj.get("best_acc"), 0.9375);
  assert.deepEqual(obj.get("classes"), ["hotdog", "not-hotdog"]);
  assert.equal(obj.get("note"), null);
  assert.deepEqual(obj.get("flags"), [true, false]);
  const optim = obj.get("optimizer") as Map<string, unknown>;
  const group = (optim.get("param_groups") as Map<string, unknown>[])[0];
  assert.equal(group.get("lr"), 0.1);
  assert.equal(group.get("momentum"), 0.9);
  assert.equal(group.get("nesterov"), false);
  assert.deepEqual(group.get("params"), [0, 1, 2, 3, 4, 5]);
  const state = optim.get("state") as Map<number, Map<string, unknown>>;
  assert.ok(isHostTensor(state.get(0)!.get("momentum_buffer")));
});

Deno.test("pth: checkpoint dicts with 'model' and 'model_state_dict'", () => {
  for (const name of ["checkpoint_model.pth", "checkpoint_model_state_dict.pth"]) {
    assertStateDict(readPth(fixtureBytes(name), name), name);
  }
});

Deno.test("pth: ResNet18-named subset keeps torchvision's names, order and _metadata", () => {
  const name = "resnet18_subset.pth";
  const sd = readPth(fixtureBytes(name), name);
  assertStateDict(sd, name);
  assert.deepEqual([...sd.keys()].slice(0, 6), [
    "conv1.weight",
    "bn1.weight",
    "bn1.bias",
    "bn1.running_mean",
    "bn1.running_var",
    "bn1.num_batches_tracked",
  ]);
  assert.deepEqual(sd.get("conv1.weight")!.shape, [8, 3, 7, 7]);
  assert.equal(sd.get("bn1.num_batches_tracked")!.dtype, "i64");
  const raw = readPthObject(fixtureBytes(name)) as Map<string, unknown> & {
    [PICKLE_ATTRS]?: Map<string, unknown>;
  };
  const meta = raw[PICKLE_ATTRS]!.get("_metadata") as Map<string, Map<string, unknown>>;
  assert.equal(meta.get("bn1")!.get("version"), 2);
  assert.ok(Object.keys(expectedFor(name)).includes("fc.bias"));
});

Deno.test("pth: malicious pickles are refused, naming the global, and nothing runs", () => {
  const marker = "/tmp/nn_io_fixture_pwned_marker";
  try {
    Deno.removeSync(marker);
  } catch { /* not there: good */ }
  for (
    const [file, global] of [
      ["malicious_system.pth", "posix.system"],
      ["malicious_eval_proto4.pth", "builtins.eval"],
    ]
  ) {
    assert.throws(() => readPth(fixtureBytes(file), file), (e: unknown) => {
      assert.ok(e instanceof UnsafePickleError);
      assert.equal(e.global, global);
      assert.match(e.message, new RegExp(`^${file}: .*'${global.replace(".", "\\.")}'.*refused`));
      return true;
    });
  }
  assert.throws(() => Deno.statSync(marker), Deno.errors.NotFound);
});

Deno.test("pth: the legacy format says how to convert it", () => {
  assert.throws(
    () => readPth(fixtureBytes("legacy.pth"), "legacy.pth"),
    /^Error: legacy\.pth: .*legacy \(pre-1\.6\) format.*torch\.save\(torch\.load\('old\.pth'/,
  );
});

Deno.test("pth: truncated, corrupt and wrong-type files give clear errors naming the file", () => {
  const good = fixtureBytes("dtypes.pth");
  assert.throws(
    () => readPth(good.slice(0, good.length - 30), "cut.pth"),
    /^Error: cut\.pth: .*damaged zip/,
  );
  assert.throws(
    () => readPth(good.slice(0, 200), "cut2.pth"),
    /^Error: cut2\.pth: .*truncated or corrupt/,
  );
  // Flip one byte of tensor data: only the CRC-32 check can notice.
  const flipped = good.slice();
  const at = new TextDecoder("latin1").decode(flipped).indexOf("dtypes/data/0") + 200;
  const corrupt = readCorrupt(flipped, at);
  assert.match(corrupt, /^corrupt\.pth: entry dtypes\/data\/\d+ fails its CRC-32 check/);
  assert.throws(
    () => readPth(new TextEncoder().encode("hello, not weights"), "a.txt"),
    /^Error: a\.txt: is not a PyTorch \.pth file/,
  );
  assert.throws(
    () => readPth(new Uint8Array(0), "empty.pth"),
    /^Error: empty\.pth: is not a PyTorch/,
  );
  assert.throws(
    () => readPth(fixtureBytes("by_python.safetensors"), "w.safetensors"),
    /^Error: w\.safetensors: is a safetensors file/,
  );
});

/** Flips the first byte from `from` whose change is caught, returning the error. */
function readCorrupt(bytes: Uint8Array, from: number): string {
  for (let i = from; i < bytes.length; i++) {
    const copy = bytes.slice();
    copy[i] ^= 0x5a;
    try {
      readPth(copy, "corrupt.pth");
    } catch (e) {
      const msg = (e as Error).message;
      if (msg.includes("CRC")) return msg;
    }
  }
  return "no byte flip was detected";
}

Deno.test("pth: file kinds are told apart by content", () => {
  assert.equal(sniffWeightFile(fixtureBytes("dtypes.pth")), "zip");
  assert.equal(sniffWeightFile(fixtureBytes("legacy.pth")), "legacy-pickle");
  assert.equal(sniffWeightFile(fixtureBytes("by_python.safetensors")), "safetensors");
  // A safetensors header of 0x280 bytes starts with the bytes 0x80 0x02, like a pickle.
  const st = new Uint8Array(8 + 0x280);
  st[0] = 0x80;
  st[1] = 0x02;
  st[8] = 0x7b;
  assert.equal(sniffWeightFile(st), "safetensors");
  const tar = new Uint8Array(1024);
  tar.set(new TextEncoder().encode("ustar"), 257);
  assert.equal(sniffWeightFile(tar), "legacy-tar");
  assert.throws(
    () => readPth(tar, "old.tar.pth"),
    /old\.tar\.pth: is a PyTorch file in the legacy \(pre-1\.6\) format/,
  );
  assert.equal(sniffWeightFile(new TextEncoder().encode("GIF89a........")), "unknown");
});
