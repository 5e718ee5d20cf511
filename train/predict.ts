// The top-k classes of decoded images under a trained network, with softmax probabilities:
// what `cli.ts predict` prints (train/inference.ts reads the files) and a page shows.

import { type Image } from "../data/image.ts";
import { mixSeed, Rng } from "../base/rng.ts";
import { softmax } from "../nn/ops/loss.ts";
import type { ResNet } from "../nn/resnet.ts";
import { noGrad, Scope, Tensor } from "../nn/tensor.ts";
import type { TrainMeta } from "./train_state.ts";
import { evalTransform } from "./transforms.ts";

/** A trained network rebuilt from a checkpoint, with the checkpoint's metadata. */
export interface Trained {
  /** The network, in eval mode. */
  model: ResNet;
  /** The checkpoint's metadata (classes, config, metrics). */
  meta: TrainMeta;
}

/** The top classes of one image. */
export interface Prediction {
  /** The image's name (a file, as given). */
  file: string;
  /** The `topK` most probable classes, most probable first (ties: lower label first). */
  top: { label: number; className: string; probability: number }[];
}

/** Top-k classes of each image (`names[i]` names image i in the result). */
export async function predictImages(
  t: Trained,
  images: Image[],
  names: string[],
  topK = 5,
  batchSize = 16,
): Promise<Prediction[]> {
  const c = t.meta.model.inChannels;
  const transform = evalTransform(t.meta.config, { dataChannels: c, modelChannels: c });
  const k = Math.min(topK, t.meta.classes.length);
  const out: Prediction[] = [];
  for (let s = 0; s < images.length; s += batchSize) {
    const chunk = images.slice(s, s + batchSize);
    const tensors = chunk.map((img, i) => {
      const x = transform.apply(img, Rng.mixed(mixSeed(0, 0, s + i)));
      if (!(x.data instanceof Float32Array)) {
        throw new Error("evaluation transform must end with ToTensor");
      }
      return x as { data: Float32Array; channels: number; height: number; width: number };
    });
    const [C, H, W] = [tensors[0].channels, tensors[0].height, tensors[0].width];
    const batch = new Float32Array(chunk.length * C * H * W);
    tensors.forEach((x, i) => batch.set(x.data, i * C * H * W));
    let probs: Float32Array;
    {
      using _ = new Scope();
      const p = noGrad(() =>
        softmax(t.model.forward(Tensor.fromArray(batch, [chunk.length, C, H, W])))
      );
      probs = await p.toArray();
    }
    const n = t.meta.classes.length;
    chunk.forEach((_, i) => {
      const row = Array.from(probs.subarray(i * n, (i + 1) * n), (p, label) => ({ label, p }));
      row.sort((a, b) => b.p - a.p || a.label - b.label);
      out.push({
        file: names[s + i],
        top: row.slice(0, k).map(({ label, p }) => ({
          label,
          className: t.meta.classes[label],
          probability: p,
        })),
      });
    });
  }
  return out;
}
