import assert from "node:assert/strict";
import { encodeSafetensors, readSafetensors, safetensorsChunks } from "../../nn/io/safetensors.ts";
import { hostTensor, type StateDict } from "../../nn/io/host_tensor.ts";
import { assertStateDict, fixtureBytes } from "./expected.ts";

Deno.test("safetensors: reads a file written by independent Python code", () => {
  const { tensors, metadata } = readSafetensors(fixtureBytes("by_python.safetensors"));
  // That file lists its tensors in reverse order; safetensors gives order no meaning.
  assertStateDict(tensors, "by_python.safetensors", false);
  assert.deepEqual(metadata, { source: "make_io_fixtures.py", n: "6" });
});

function sample(): StateDict {
  return new Map([
    ["h", hostTensor("f16", [3], new Uint16Array([0x3c00, 0xc000, 0x7c00]))], // odd length first
    ["w", hostTensor("f32", [2, 2], new Float32Array([1, -2, 3.5, NaN]))],
    ["bf", hostTensor("bf16", [1], new Uint16Array([0x3f80]))],
    ["n", hostTensor("i64", [], new BigInt64Array([-(2n ** 62n)]))],
    ["idx", hostTensor("i32", [2], new Int32Array([-1, 2 ** 31 - 1]))],
    ["empty", hostTensor("f32", [0, 5], new Float32Array(0))],
  ]);
}

Deno.test("safetensors: round trip keeps dtype, shape, exact bits, names and metadata", () => {
  const src = sample();
  const bytes = encodeSafetensors(src, { epoch: "3", note: "ünïcode" });
  const { tensors, metadata } = readSafetensors(bytes);
  assert.deepEqual(metadata, { epoch: "3", note: "ünïcode" });
  assert.deepEqual([...tensors.keys()], [...src.keys()]);
  for (const [k, t] of src) assert.deepEqual(tensors.get(k), t, k);
});

Deno.test("safetensors: layout is aligned (8-byte header, each tensor at its element size)", () => {
  const bytes = encodeSafetensors(sample());
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const size: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };
  for (
    const [k, e] of Object.entries(header) as [string, { dtype: string; data_offsets: number[] }][]
  ) {
    assert.equal(e.data_offsets[0] % size[e.dtype], 0, k);
  }
  assert.equal(
    encodeSafetensors(sample()).length,
    safetensorsChunks(sample()).reduce((a, c) => a + c.length, 0),
  );
});

/** A file with a hand-written header and `data` bytes after it. */
function withHeader(header: unknown, data = new Uint8Array(16)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("safetensors: bad inputs are refused with the file name and the problem", () => {
  const read = (b: Uint8Array) => () => readSafetensors(b, "bad.safetensors");
  const good = encodeSafetensors(sample());
  assert.throws(read(good.subarray(0, 5)), /^Error: bad\.safetensors: is too short/);
  assert.throws(read(good.subarray(0, 40)), /header length \d+ exceeds the file/);
  assert.throws(read(good.subarray(0, good.length - 4)), /spans bytes .* the file is truncated/);
  const t = (dtype: string, shape: number[], offs: number[]) => ({
    x: { dtype, shape, data_offsets: offs },
  });
  assert.throws(
    read(withHeader(t("F32", [2], [0, 9]))),
    /needs 8 bytes but its data_offsets span 9/,
  );
  assert.throws(
    read(withHeader(t("F32", [2], [12, 20]))),
    /spans bytes \[12, 20\) but the data section has 16/,
  );
  assert.throws(read(withHeader(t("F32", [2], [8, 0]))), /spans bytes/);
  assert.throws(read(withHeader(t("F64", [2], [0, 16]))), /tensor "x" has dtype "F64"; supported/);
  assert.throws(read(withHeader(t("F32", [-2], [0, 8]))), /invalid shape/);
  assert.throws(read(withHeader({ x: { dtype: "F32", shape: [2] } })), /invalid data_offsets/);
  assert.throws(
    read(withHeader({
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
    })),
    /"a" and "b" overlap/,
  );
  assert.throws(
    read(withHeader({ __metadata__: { n: 3 } })),
    /__metadata__\["n"\] is not a string/,
  );
  assert.throws(read(withHeader([1, 2])), /header is not a JSON object/);
  const notJson = withHeader({});
  notJson[8] = 0x7e;
  assert.throws(read(notJson), /header is not valid JSON/);
});

Deno.test("safetensors: writing refuses inconsistent tensors", () => {
  const bad: StateDict = new Map([["x", { dtype: "f32", shape: [3], data: new Float32Array(2) }]]);
  assert.throws(() => encodeSafetensors(bad), /"x" has 2 elements but shape \[3\]/);
  const meta = { a: 1 } as unknown as Record<string, string>;
  assert.throws(() => encodeSafetensors(new Map(), meta), /metadata "a" must be a string/);
});
