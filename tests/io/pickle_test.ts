import assert from "node:assert/strict";
import { type PickleGlobals, unpickle, UnsafePickleError } from "../../nn/io/pickle.ts";
import { torchGlobals } from "../../nn/io/torch_pickle.ts";
import { fixturePath } from "./expected.ts";

const pickles = JSON.parse(Deno.readTextFileSync(fixturePath("plain_pickles.json"))) as Record<
  string,
  string
>;

function b64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

for (const protocol of ["0", "1", "2", "3", "4", "5"]) {
  Deno.test(`pickle: plain data written by Python with protocol ${protocol}`, () => {
    const v = unpickle(b64(pickles[protocol]), { globals: torchGlobals() }) as Map<
      unknown,
      unknown
    >;
    assert.ok(v instanceof Map);
    assert.deepEqual(v.get("ints"), [
      0,
      1,
      -1,
      255,
      256,
      65535,
      65536,
      -(2 ** 31),
      2 ** 31 - 1,
      2 ** 31,
      2n ** 53n,
      -(2n ** 63n),
    ]);
    assert.equal(v.get("big"), 2n ** 70n);
    assert.equal(v.get("negbig"), -(2n ** 70n) - 5n);
    assert.deepEqual(v.get("floats"), [0.5, -1e300, 1e-300, Infinity]);
    assert.equal(v.get("s"), "h\u00e9llo \u2603 \n\\ 'q\"");
    assert.deepEqual(v.get("b"), new Uint8Array([0, 255, 128]));
    assert.equal(v.get("none"), null);
    assert.equal(v.get("t"), true);
    assert.equal(v.get("f"), false);
    assert.deepEqual(v.get("tuple"), [1, [2, "x"]]);
    assert.deepEqual(v.get("nested"), new Map([["k", [[], new Map()]]]));
    assert.deepEqual(v.get("set"), new Set([3]));
    assert.deepEqual(v.get("frozen"), new Set([4]));
    assert.equal(v.get(7), "int key");
    // The memo keeps shared references shared.
    assert.equal(v.get("shared_a"), v.get("shared_b"));
  });
}

const noGlobals: PickleGlobals = new Map();

Deno.test("pickle: a global outside the allow-list is refused before use", () => {
  // \x80\x02 c"builtins\neval\n" X"1+1" \x85 R .
  const src = [
    0x80,
    2,
    ...new TextEncoder().encode("cbuiltins\neval\nX"),
    3,
    0,
    0,
    0,
    ...new TextEncoder().encode("1+1"),
    0x85,
    0x52,
    0x2e,
  ];
  let called = false;
  const globals = new Map([["builtins.print", () => (called = true)]]);
  assert.throws(() => unpickle(new Uint8Array(src), { globals }), (e: unknown) => {
    assert.ok(e instanceof UnsafePickleError);
    assert.equal(e.global, "builtins.eval");
    return true;
  });
  assert.equal(called, false);
});

Deno.test("pickle: malformed streams fail with a reason", () => {
  const bytes = (...b: number[]) => new Uint8Array(b);
  // Truncated: BININT with 2 of 4 bytes.
  assert.throws(() => unpickle(bytes(0x80, 2, 0x4a, 1, 2), { globals: noGlobals }), /ends early/);
  // No STOP.
  assert.throws(() => unpickle(bytes(0x80, 2, 0x4e), { globals: noGlobals }), /ends early/);
  // APPEND with nothing on the stack.
  assert.throws(() => unpickle(bytes(0x61, 0x2e), { globals: noGlobals }), /underflow/);
  // Unknown opcode.
  assert.throws(() => unpickle(bytes(0xff), { globals: noGlobals }), /unknown opcode 0xff/);
  // BINGET of an empty memo slot.
  assert.throws(
    () => unpickle(bytes(0x68, 9, 0x2e), { globals: noGlobals }),
    /memo has no entry 9/,
  );
  // Persistent id without a loader.
  assert.throws(() => unpickle(bytes(0x4e, 0x51, 0x2e), { globals: noGlobals }), /persistent id/);
  // The extension registry could name any global.
  assert.throws(() => unpickle(bytes(0x82, 1, 0x2e), { globals: noGlobals }), /extension registry/);
  // Two values left at STOP.
  assert.throws(() => unpickle(bytes(0x4e, 0x4e, 0x2e), { globals: noGlobals }), /2 values/);
});
