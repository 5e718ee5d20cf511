// Compares tensors read by nn/io with what PyTorch wrote into
// tests/fixtures/io/expected.json (see make_io_fixtures.py for its format).
import assert from "node:assert/strict";
import { type HostTensor, type StateDict, toFloat32 } from "../../nn/io/host_tensor.ts";

export const FIXTURES = new URL("../fixtures/io/", import.meta.url);

export function fixturePath(name: string): string {
  return new URL(name, FIXTURES).pathname;
}

export function fixtureBytes(name: string): Uint8Array {
  return Deno.readFileSync(fixturePath(name));
}

interface Expected {
  dtype: string;
  shape: number[];
  values: (number | string)[];
}

const all = JSON.parse(Deno.readTextFileSync(fixturePath("expected.json"))) as Record<
  string,
  Record<string, Expected>
>;

export function expectedFor(file: string): Record<string, Expected> {
  assert.ok(all[file], `expected.json has no entry for ${file}`);
  return all[file];
}

function floatOf(v: number | string): number {
  if (v === "inf") return Infinity;
  if (v === "-inf") return -Infinity;
  if (v === "nan") return NaN;
  return v as number;
}

/** Asserts that one tensor has exactly the expected dtype, shape and values. */
export function assertTensor(name: string, t: HostTensor | undefined, e: Expected): void {
  assert.ok(t, `tensor ${name} is missing`);
  assert.equal(t.dtype, e.dtype, `${name}: dtype`);
  assert.deepEqual(t.shape, e.shape, `${name}: shape`);
  assert.equal(t.data.length, e.values.length, `${name}: element count`);
  if (t.dtype === "i64") {
    const got = t.data as BigInt64Array;
    e.values.forEach((v, i) => assert.equal(got[i], BigInt(v), `${name}[${i}]`));
  } else if (t.dtype === "i32") {
    const got = t.data as Int32Array;
    e.values.forEach((v, i) => assert.equal(got[i], Number(v), `${name}[${i}]`));
  } else {
    const got = toFloat32(t);
    // Object.is: NaN equals NaN and -0 differs from +0.
    e.values.forEach((v, i) => {
      const want = Math.fround(floatOf(v));
      assert.ok(Object.is(got[i], want), `${name}[${i}]: got ${got[i]}, want ${want}`);
    });
  }
}

/** Asserts that a state dict holds exactly the expected tensors (in order, if `ordered`). */
export function assertStateDict(sd: StateDict, file: string, ordered = true): void {
  const e = expectedFor(file);
  const names = (keys: string[]) => ordered ? keys : keys.toSorted();
  assert.deepEqual(names([...sd.keys()]), names(Object.keys(e)), `${file}: tensor names`);
  for (const [k, want] of Object.entries(e)) assertTensor(`${file}:${k}`, sd.get(k), want);
}
