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
  conv1: Conv2d;
  bn1: BatchNorm2d;
  relu = new ReLU();
  conv2: Conv2d;
  bn2: BatchNorm2d;
  downsample: Sequential | null;

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

  forward(x: Tensor): Tensor {
    const out = this.bn2.forward(this.conv2.forward(relu(this.bn1.forward(this.conv1.forward(x)))));
    const identity = this.downsample ? this.downsample.forward(x) : x;
    return relu(add(out, identity));
  }
}

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

export class ResNet extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  relu = new ReLU();
  maxpool = new MaxPool2d(3, 2, 1);
  layer1?: Sequential;
  layer2?: Sequential;
  layer3?: Sequential;
  layer4?: Sequential;
  avgpool = new AdaptiveAvgPool2d(1);
  fc: Linear;

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
