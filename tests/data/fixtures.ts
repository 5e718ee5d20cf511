// Shared access to tests/fixtures/data (expected.json is written by make_fixtures.py).

export const FIXTURES = new URL("../fixtures/data/", import.meta.url).pathname;

interface Recorded {
  shape: number[];
  dtype: string;
  data: number[];
}

const expected = JSON.parse(Deno.readTextFileSync(`${FIXTURES}expected.json`));

export function fixture(name: string): Recorded {
  const r = expected[name];
  if (!r) throw new Error(`no fixture "${name}" in expected.json; rerun make_fixtures.py`);
  return r;
}

export function fixtureRaw(name: string): unknown {
  return expected[name];
}

export function readFixture(rel: string): Uint8Array {
  return Deno.readFileSync(`${FIXTURES}${rel}`);
}

/** Largest absolute difference and mean absolute difference of two equal-length arrays. */
export function diffStats(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): { max: number; mean: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let max = 0, sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

/** The fixture image (HWC uint8) as an Image. */
export function fixtureImage(name: string) {
  const r = fixture(name);
  const [height, width, channels] = r.shape;
  return { width, height, channels: channels ?? 1, data: Uint8Array.from(r.data) };
}
