import assert from "node:assert/strict";
import {
  floatToHalf,
  halfToFloat,
  hostTensor,
  tensorFromBytes,
  toFloat16,
  toFloat32,
} from "../../nn/io/host_tensor.ts";

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

// The reference is halfToFloat, checked above against the IEEE definition: every half value
// converts back to its own bits, and a value halfway between two neighbours goes to the one
// with the even significand (round to nearest even), just past halfway to the nearer one.
Deno.test("host tensor: floatToHalf rounds to nearest even over every half value", () => {
  for (let h = 0; h < 0x10000; h++) {
    const x = halfToFloat(h);
    if (Number.isNaN(x)) {
      assert.ok(Number.isNaN(halfToFloat(floatToHalf(x))), `NaN ${h}`);
      continue;
    }
    assert.equal(floatToHalf(x), h, `bits ${h.toString(16)}`);
    const next = h + 1; // the next magnitude up, same sign
    if ((h & 0x7fff) >= 0x7bff) continue; // the largest finite: its neighbour is infinity
    const mid = (x + halfToFloat(next)) / 2; // exact in float64, and in float32 (11 bits + 1)
    const even = (h & 1) === 0 ? h : next;
    assert.equal(floatToHalf(mid), even, `midpoint above ${h.toString(16)}`);
    const nudge = Math.abs(mid) * 2 ** -20; // past halfway, still within float32 precision
    assert.equal(floatToHalf(mid + Math.sign(mid || 1) * nudge), next, `above ${h.toString(16)}`);
    assert.equal(floatToHalf(mid - Math.sign(mid || 1) * nudge), h, `below ${h.toString(16)}`);
  }
  assert.equal(floatToHalf(65520), 0x7c00); // halfway to the next power: rounds to infinity
  assert.equal(floatToHalf(-1e9), 0xfc00);
  assert.equal(floatToHalf(2 ** -26), 0); // below half the smallest subnormal
  assert.equal(floatToHalf(-(2 ** -26)), 0x8000);
});

Deno.test("host tensor: toFloat16 narrows float tensors and leaves integers", () => {
  const t = toFloat16(hostTensor("f32", [3], Float32Array.of(1, -0.1, 70000)));
  assert.equal(t.dtype, "f16");
  assert.deepEqual([...t.data as Uint16Array], [0x3c00, floatToHalf(-0.1), 0x7c00]);
  assert.ok(Math.abs(toFloat32(t)[1] + 0.1) <= 2 ** -14); // half an ulp at 0.1 is 2^-15
  const ints = hostTensor("i64", [1], BigInt64Array.of(7n));
  assert.equal(toFloat16(ints), ints);
});
