// Runs the README's library example exactly as printed there (only its "./mod.ts" import is
// pointed at this checkout), from a temporary directory outside the repository with no config.

import assert from "node:assert/strict";
import { readStateDictFile } from "../nn/io/weights_file.ts";
import { resnet18 } from "../nn/resnet.ts";
import { gpuReady } from "./helpers.ts";

const FASHION = "/usr/share/datasets/fashion-mnist";
const haveFashion = await Deno.stat(FASHION).then(() => true, () => false);

/** The first ```ts block after the "### As a library" heading. */
export function libraryExample(readme: string): string {
  const section = readme.slice(readme.indexOf("### As a library"));
  const m = section.match(/```ts\n([\s\S]*?)```/);
  if (!m) throw new Error("README.md has no ts block under '### As a library'");
  return m[1];
}

Deno.test({
  name:
    "the README's library example trains, prints, evaluates and saves weights torchvision-named",
  ignore: !haveFashion &&
    (console.log(`skipped: ${FASHION} missing (dataset-fashion-mnist)`), true),
  fn: async () => {
    await gpuReady;
    const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
    const code = libraryExample(readme);
    assert.ok(code.includes(`from "./mod.ts"`));
    const dir = await Deno.makeTempDir();
    try {
      const mod = new URL("../mod.ts", import.meta.url).href;
      await Deno.writeTextFile(`${dir}/example.ts`, code.replace(`"./mod.ts"`, `"${mod}"`));
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-config", "--no-lock", "example.ts"],
        cwd: dir,
        env: { XDG_RUNTIME_DIR: "/tmp", WEBGPU_RESNET_AUTOTUNE: "0" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const lines = text.trim().split("\n");
      assert.equal(lines.length, 3, text);
      for (const [i, line] of lines.entries()) {
        const m = line.match(/^epoch (\d): train loss (\d+\.\d{4}), test accuracy (\d+\.\d) %$/);
        assert.ok(m, `line ${i + 1}: ${line}`);
        assert.equal(Number(m[1]), i + 1);
        const accuracy = Number(m[3]);
        assert.ok(accuracy >= 0 && accuracy <= 100);
      }
      // sandals and sneakers are easy: three epochs on 200 images beat chance clearly
      assert.ok(Number(lines[2].match(/accuracy (\S+)/)![1]) > 60, text);
      const saved = await readStateDictFile(`${dir}/sandal-sneaker.safetensors`);
      assert.equal(saved.get("bn1.num_batches_tracked")!.dtype, "i64");
      assert.equal(saved.get("bn1.num_batches_tracked")!.data[0], 30n, "3 epochs of 10 batches");
      const model = resnet18({ numClasses: 2, inChannels: 1 });
      model.loadStateDict(saved); // strict: every torchvision name present
      model.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
