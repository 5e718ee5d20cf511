// Child process of the hostile suite's memory-bomb cases (and of the before/after peak
// memory measurement): reads one file with one reader and prints "ok ..." or the error.
// Usage: deno run -A read_child.ts weights|zip-folder|image FILE
import { ImageFolder } from "../../data/image_folder.ts";
import { decodeImage } from "../../data/decode.ts";
import { readStateDictFile } from "../../nn/io/weights_file.ts";

const [kind, path] = Deno.args;
try {
  if (kind === "weights") {
    const sd = await readStateDictFile(path);
    console.log(`ok ${sd.size} tensors`);
  } else if (kind === "zip-folder") {
    const f = new ImageFolder(path, { warn: (m) => console.log(m) });
    for (let i = 0; i < f.length; i++) f.get(i);
    console.log(`ok ${f.length} images, ${f.skipped.length} skipped`);
  } else if (kind === "image") {
    const img = decodeImage(Deno.readFileSync(path), path);
    console.log(`ok ${img.width}x${img.height}`);
  } else throw new Error(`unknown kind ${kind}`);
} catch (e) {
  console.log(`error ${(e as Error).message}`);
}
