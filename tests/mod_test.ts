import assert from "node:assert/strict";
import * as lib from "../mod.ts";

Deno.test("mod.ts exposes the library's pieces", () => {
  for (
    const name of [
      "initGpu",
      "Tensor",
      "resnet18",
      "SGD",
      "Adam",
      "AdamW",
      "ReduceLROnPlateau",
      "crossEntropy",
      "DataLoader",
      "ImageFolder",
      "readPth",
      "saveCheckpoint",
      "Linear",
      "BatchNorm2d",
    ]
  ) {
    assert.ok(name in lib, `mod.ts exports ${name}`);
  }
});
