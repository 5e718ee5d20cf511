import assert from "node:assert/strict";
import {
  DecodeError,
  decodeImage,
  decodeJpeg,
  decodePng,
  decodePngRaw,
  probeImage,
} from "../../data/mod.ts";
import { diffStats, fixture, readFixture } from "./fixtures.ts";

const PNG_CASES: [string, number, number][] = [
  // name, channels, bit depth
  ["gray8", 1, 8],
  ["rgb8", 3, 8],
  ["rgba8", 4, 8],
  ["gray_alpha8", 2, 8],
  ["gray1", 1, 8],
  ["palette", 3, 8],
  ["rgb16", 3, 16],
  ["gray16", 1, 16],
  ["interlaced", 3, 8],
];

for (const [name, channels, depth] of PNG_CASES) {
  Deno.test(`PNG ${name}: pixels equal what PIL/ImageMagick wrote`, () => {
    const raw = decodePngRaw(readFixture(`png/${name}.png`), name);
    const want = fixture(`png/${name}`);
    assert.equal(raw.width, 13);
    assert.equal(raw.height, 9);
    assert.equal(raw.channels, channels);
    assert.equal(raw.bitDepth, depth);
    assert.deepEqual(Array.from(raw.data), want.data);
  });
}

Deno.test("PNG to 8-bit image: alpha dropped, 16-bit keeps the high byte", () => {
  const rgba = decodePng(readFixture("png/rgba8.png"));
  const want = fixture("png/rgba8").data;
  assert.equal(rgba.channels, 3);
  assert.deepEqual(Array.from(rgba.data.subarray(0, 6)), [
    want[0],
    want[1],
    want[2],
    want[4],
    want[5],
    want[6],
  ]);
  const g16 = decodePng(readFixture("png/gray16.png"));
  assert.deepEqual(
    Array.from(g16.data.subarray(0, 4)),
    fixture("png/gray16").data.slice(0, 4).map((v) => v >> 8),
  );
});

for (const name of ["baseline", "progressive", "gray", "cmyk", "subsampled"]) {
  Deno.test(`JPEG ${name}: within JPEG tolerance of PIL's decode`, () => {
    const img = decodeJpeg(readFixture(`jpeg/${name}.jpg`), name);
    const want = fixture(`jpeg/${name}`);
    assert.deepEqual([img.height, img.width, img.channels], want.shape);
    const d = diffStats(img.data, want.data);
    // jpeg-js's IDCT differs slightly from libjpeg's, and it upsamples 4:2:0 chroma by
    // pixel replication where libjpeg interpolates: larger (still small) differences there.
    const sub = name === "subsampled";
    assert.ok(d.mean < (sub ? 6 : 2), `mean abs diff ${d.mean}`);
    assert.ok(d.max <= (sub ? 48 : 16), `max abs diff ${d.max}`);
  });
}

const BAD: [string, RegExp][] = [
  ["jpeg/truncated.jpg", /truncated JPEG/],
  ["jpeg/empty.jpg", /empty \(0 bytes\)/],
  ["jpeg/not_an_image.jpg", /neither a JPEG nor a PNG/],
  ["png/bad_crc.png", /CRC/],
  ["png/truncated.png", /truncated PNG/],
];
for (const [file, why] of BAD) {
  Deno.test(`unreadable ${file}: DecodeError naming the file`, () => {
    const bytes = readFixture(file);
    assert.throws(() => decodeImage(bytes, file), (e: unknown) => {
      assert.ok(e instanceof DecodeError);
      assert.match(e.message, new RegExp(file.replace(".", "\\.")));
      assert.match(e.message, why);
      return true;
    });
  });
}

Deno.test("probeImage catches truncation and empties without decoding; accepts good files", () => {
  const good = readFixture("jpeg/baseline.jpg");
  assert.deepEqual(probeImage(good, good, "b.jpg"), {
    width: 24,
    height: 20,
    components: 3,
    progressive: false,
  });
  const cut = readFixture("jpeg/truncated.jpg");
  assert.throws(() => probeImage(cut, cut, "t.jpg"), /t\.jpg.*truncated/);
  const png = readFixture("png/truncated.png");
  assert.throws(() => probeImage(png, png, "t.png"), /truncated PNG/);
  assert.throws(() => probeImage(new Uint8Array(0), new Uint8Array(0), "z.png"), /empty/);
});

Deno.test("pixel cap refuses a huge image before decoding", () => {
  const bytes = readFixture("jpeg/baseline.jpg"); // 24x20 = 480 px
  assert.throws(
    () => decodeImage(bytes, "big.jpg", { maxPixels: 100 }),
    /big\.jpg.*exceeds the limit of 100 pixels/,
  );
  assert.throws(
    () => decodeImage(readFixture("png/rgb8.png"), "big.png", { maxPixels: 100 }),
    /big\.png.*exceeds/,
  );
});

Deno.test("decodeImage gives RGB by default and grayscale on request", () => {
  const g = decodeImage(readFixture("png/gray8.png"), "g");
  assert.equal(g.channels, 3);
  assert.equal(g.data[0], g.data[1]);
  const l = decodeImage(readFixture("png/rgb8.png"), "c", { channels: 1 });
  assert.equal(l.channels, 1);
  assert.equal(l.data.length, 13 * 9);
});
