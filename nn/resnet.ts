// ResNet18 exactly as torchvision builds it (same modules, names, shapes and
// initialisation), so torchvision's resnet18 weights load by name; plus the transfer-
// learning surgery people do on it: a new head, and keeping only the first k stages.

import { ArgumentError } from "../base/errors.ts";
import { add, relu } from "./ops/basic.ts";
import { kaimingNormal } from "./init.ts";
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
} from "./layers.ts";
import { Module } from "./module.ts";
import { Rng } from "../base/rng.ts";
import { Tensor } from "./tensor.ts";

/** torchvision's BasicBlock: two 3x3 convs with BN, and a residual connection. */
export class BasicBlock extends Module {
  /** First 3×3 convolution (stride 1 or 2). */
  conv1: Conv2d;
  /** BatchNorm after conv1. */
  bn1: BatchNorm2d;
  /** The block's ReLU. */
  relu = new ReLU();
  /** Second 3×3 convolution. */
  conv2: Conv2d;
  /** BatchNorm after conv2. */
  bn2: BatchNorm2d;
  /** 1×1 convolution and BatchNorm on the shortcut when the shape changes, else null. */
  downsample: Sequential | null;

  /** A block from `inPlanes` to `planes` channels; `rng` seeds its weights. */
  constructor(inPlanes: number, planes: number, stride: number, rng: Rng) {
    super();
    this.conv1 = new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false, rng });
    this.bn1 = new BatchNorm2d(planes);
    this.conv2 = new Conv2d(planes, planes, 3, { padding: 1, bias: false, rng });
    this.bn2 = new BatchNorm2d(planes);
    this.downsample = stride !== 1 || inPlanes !== planes
      ? new Sequential(
        new Conv2d(inPlanes, planes, 1, { stride, bias: false, rng }),
        new BatchNorm2d(planes),
      )
      : null;
  }

  /** conv-bn-relu-conv-bn, plus the shortcut, then ReLU. */
  forward(x: Tensor): Tensor {
    const out = this.bn2.forward(this.conv2.forward(relu(this.bn1.forward(this.conv1.forward(x)))));
    const identity = this.downsample ? this.downsample.forward(x) : x;
    return relu(add(out, identity));
  }
}

/** Options of `resnet18`. */
export interface ResNet18Options {
  /** Outputs of the classifier head (torchvision's num_classes), default 1000. */
  numClasses?: number;
  /** Input channels of the stem (3 for RGB, 1 for grayscale), default 3. */
  inChannels?: number;
  /** Keep only the first `stages` residual stages (1-4), default 4: the full network. */
  stages?: number;
  /** Seed of the initial weights. */
  seed?: number;
}

const PLANES = [64, 128, 256, 512];

/** torchvision's ResNet (BasicBlock, [2, 2, 2, 2]), with its state-dict names. */
export class ResNet extends Module {
  /** The 7×7 stride-2 stem convolution. */
  conv1: Conv2d;
  /** BatchNorm after the stem. */
  bn1: BatchNorm2d;
  /** The stem's ReLU. */
  relu = new ReLU();
  /** 3×3 stride-2 max pooling after the stem. */
  maxpool = new MaxPool2d(3, 2, 1);
  /** Stage 1 (64 channels). */
  layer1?: Sequential;
  /** Stage 2 (128 channels); absent when `stages` < 2. */
  layer2?: Sequential;
  /** Stage 3 (256 channels); absent when `stages` < 3. */
  layer3?: Sequential;
  /** Stage 4 (512 channels); absent when `stages` < 4. */
  layer4?: Sequential;
  /** Global average pooling. */
  avgpool = new AdaptiveAvgPool2d(1);
  /** The classifier head; replace it (`model.fc = new Linear(512, n)`) for other classes. */
  fc: Linear;

  /** A network with freshly initialised weights (use `resnet18(options)`). */
  constructor(options: ResNet18Options = {}) {
    super();
    const stages = options.stages ?? 4;
    if (!Number.isInteger(stages) || stages < 1 || stages > 4) {
      throw new ArgumentError(`resnet18: stages must be 1, 2, 3 or 4, got ${stages}`);
    }
    const rng = new Rng(options.seed ?? 0);
    this.conv1 = new Conv2d(options.inChannels ?? 3, 64, 7, {
      stride: 2,
      padding: 3,
      bias: false,
      rng,
    });
    this.bn1 = new BatchNorm2d(64);
    let inPlanes = 64;
    const layers: Sequential[] = [];
    for (let s = 0; s < stages; s++) {
      const planes = PLANES[s];
      const stride = s === 0 ? 1 : 2;
      layers.push(
        new Sequential(
          new BasicBlock(inPlanes, planes, stride, rng),
          new BasicBlock(planes, planes, 1, rng),
        ),
      );
      inPlanes = planes;
    }
    [this.layer1, this.layer2, this.layer3, this.layer4] = layers;
    this.fc = new Linear(inPlanes, options.numClasses ?? 1000, { rng });
    // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu") for every conv;
    // BatchNorm weight 1, bias 0 (their defaults); Linear keeps nn.Linear's default.
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d) {
        const w = m.weight;
        m.weight = Tensor.parameter(kaimingNormal(w.shape, rng, "fan_out"), w.shape);
        w.dispose();
      }
    }
  }

  /** The residual stages present, in order. */
  get stages(): Sequential[] {
    return [this.layer1, this.layer2, this.layer3, this.layer4].filter((l): l is Sequential => !!l);
  }

  /** Channels the head receives (512 for the full network). */
  get featureChannels(): number {
    return PLANES[this.stages.length - 1];
  }

  /** Everything up to the pooled feature vector [N, featureChannels]. */
  features(x: Tensor): Tensor {
    if (x.shape.length !== 4 || x.shape[1] !== this.conv1.inChannels) {
      throw new ArgumentError(
        `resnet18: expected input [N, ${this.conv1.inChannels}, H, W], got [${x.shape}]`,
      );
    }
    x = this.maxpool.forward(relu(this.bn1.forward(this.conv1.forward(x))));
    for (const stage of this.stages) x = stage.forward(x);
    const pooled = this.avgpool.forward(x);
    return pooled.reshape([pooled.shape[0], -1]);
  }

  /** Logits [N, numClasses] of images `x` [N, inChannels, H, W]. */
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.features(x));
  }

  /** Replaces the head with a new one for `numClasses` (nn.Linear init, or xavier). */
  replaceHead(
    numClasses: number,
    options: { init?: "default" | "xavier"; seed?: number } = {},
  ): Linear {
    const old = this.fc;
    this.fc = new Linear(this.featureChannels, numClasses, {
      init: options.init,
      rng: new Rng(options.seed ?? 1),
    });
    old.dispose();
    return this.fc;
  }

  /**
   * Keeps the stem and the first `k` stages, dropping the rest, with a new head for
   * `numClasses` (the "small dataset, different data" recipe: early features transfer best).
   */
  truncate(
    k: number,
    numClasses: number,
    options: { init?: "default" | "xavier"; seed?: number } = {},
  ): this {
    if (!Number.isInteger(k) || k < 1 || k > this.stages.length) {
      throw new ArgumentError(`truncate: k must be between 1 and ${this.stages.length}, got ${k}`);
    }
    const names = ["layer1", "layer2", "layer3", "layer4"] as const;
    for (let s = k; s < 4; s++) {
      this[names[s]]?.dispose();
      delete this[names[s]];
    }
    this.replaceHead(numClasses, options);
    return this;
  }

  /** Every BatchNorm2d below, for freezing statistics with `lockedEval`. */
  batchNorms(): BatchNorm2d[] {
    return this.namedModules().map(([, m]) => m).filter((m): m is BatchNorm2d =>
      m instanceof BatchNorm2d
    );
  }
}

/** torchvision.models.resnet18 with the given head size and input channels. */
export function resnet18(options: ResNet18Options = {}): ResNet {
  return new ResNet(options);
}
