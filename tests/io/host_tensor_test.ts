import assert from "node:assert/strict";
import { halfToFloat, hostTensor, tensorFromBytes, toFloat32 } from "../../nn/io/host_tensor.ts";

Deno.test("host tensor: f16 bits convert exactly, including subnormals and specials", () => {
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x7bff), 65504);
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.equal(halfToFloat(0x03ff), 1023 * 2 ** -24);
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.equal(halfToFloat(0xfc00), -Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.ok(Object.is(halfToFloat(0x8000), -0));
});

Deno.test("host tensor: toFloat32 for bf16, i64 and i32", () => {
  assert.deepEqual(
    [...toFloat32(hostTensor("bf16", [3], new Uint16Array([0x3f80, 0xc049, 0x0000])))],
    [1, -3.140625, 0],
  );
  assert.deepEqual([...toFloat32(hostTensor("i64", [2], new BigInt64Array([-5n, 2n ** 40n])))], [
    -5,
    2 ** 40,
  ]);
  assert.deepEqual([...toFloat32(hostTensor("i32", [2], new Int32Array([7, -8])))], [7, -8]);
  const f = hostTensor("f32", [1], new Float32Array([2]));
  const copy = toFloat32(f);
  copy[0] = 9;
  assert.equal(f.data[0], 2, "toFloat32 returns a copy");
});

Deno.test("host tensor: construction checks shape, length and array type", () => {
  assert.throws(() => hostTensor("f32", [2, 2], new Float32Array(3)), /4 elements but data has 3/);
  assert.throws(
    () => hostTensor("i64", [1], new Float32Array(1) as never),
    /needs a BigInt64Array/,
  );
  assert.throws(() => hostTensor("f32", [1.5], new Float32Array(1)), /invalid tensor shape/);
  // Unaligned source bytes are copied into an aligned array.
  const bytes = new Uint8Array(9);
  new DataView(bytes.buffer).setFloat32(1, 1.5, true);
  assert.deepEqual([...tensorFromBytes("f32", [], bytes.subarray(1, 5)).data], [1.5]);
  assert.throws(() => tensorFromBytes("f32", [2], bytes), /needs 8 bytes, got 9/);
});
