// Rebuilds a dataset from its spec (the inverse of Dataset.spec()), e.g. inside a Worker.

import { ArrayImageDataset } from "./array_dataset.ts";
import type { Dataset, DatasetSpec } from "./dataset.ts";
import { DecodedCache } from "./decoded_cache.ts";
import { ImageFolder } from "./image_folder.ts";
import { Subset } from "./subset.ts";

export function datasetFromSpec(spec: DatasetSpec): Dataset {
  switch (spec.kind) {
    case "array":
      return new ArrayImageDataset(spec.pixels, spec.labels, spec);
    case "imageFolder":
      return ImageFolder.fromSpec(spec);
    case "decodedCache":
      return DecodedCache.fromSpec(spec);
    case "subset":
      return new Subset(datasetFromSpec(spec.base), spec.indices, spec.labelMap, spec.classes);
    default:
      throw new Error(`unknown dataset spec kind "${(spec as { kind: string }).kind}"`);
  }
}
