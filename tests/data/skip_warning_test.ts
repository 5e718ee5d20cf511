// Skipped-image warnings name every file and why, up to ten, then say how many more and where
// all of them are.

import assert from "node:assert/strict";
import { ImageFolder } from "../../data/image_folder.ts";
import { writeImageFolder } from "../train/tiny_data.ts";

Deno.test("ImageFolder's warning lists the skipped files with reasons: all of a few, the first 10 of many", async () => {
  const root = await writeImageFolder(await Deno.makeTempDir(), {
    classes: ["a", "b"],
    perClass: 2,
  });
  try {
    await Deno.writeFile(`${root}/a/bad0.png`, new Uint8Array(0));
    await Deno.writeTextFile(`${root}/b/bad1.bmp`, "BM");
    const few: string[] = [];
    new ImageFolder(root, { warn: (m) => few.push(m) });
    assert.equal(few.length, 1);
    assert.deepEqual(few[0].split("\n").slice(1).map((l) => l.split(":")[0]), [
      "  a/bad0.png",
      "  b/bad1.bmp",
    ]);
    assert.match(few[0], /^ImageFolder: skipped 2 unreadable images of 6 in ".*":\n/);
    assert.match(few[0], /bad0\.png: the file is empty/);

    for (let i = 2; i < 14; i++) await Deno.writeFile(`${root}/b/bad${i}.png`, new Uint8Array(0));
    const many: string[] = [];
    const folder = new ImageFolder(root, { warn: (m) => many.push(m) });
    const lines = many[0].split("\n");
    assert.match(lines[0], /skipped 14 unreadable images of 18/);
    assert.equal(lines.length, 1 + 10 + 1, many[0]);
    assert.equal(lines.at(-1), "  ... and 4 more (all of them in ImageFolder.skipped)");
    assert.equal(folder.skipped.length, 14);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
