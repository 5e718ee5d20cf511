// The adapter profile: what the engine knows of the adapter it runs on, computed once at
// device creation. Every choice of kernel variant and tile size is made from it (in
// tuning.ts), never from the adapter's name in a family's own file.

/** Limits a kernel family may depend on, as granted to the device. */
export interface ProfileLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupsPerDimension: number;
  minStorageBufferOffsetAlignment: number;
}

export interface AdapterProfile {
  /** A CPU implementation (llvmpipe/lavapipe, SwiftShader, WARP) rather than a GPU. */
  software: boolean;
  /** "nvidia", "amd", "intel", "apple", "arm", "qualcomm", "mesa", "google", ... or "unknown". */
  vendor: string;
  architecture: string;
  description: string;
  /** The class the tuning table is keyed by. */
  kind: "software" | "gpu";
  features: {
    subgroups: boolean;
    shaderF16: boolean;
    timestampQuery: boolean;
  };
  /** Subgroup sizes the adapter reports (0 when unknown or without subgroups). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  limits: ProfileLimits;
  /** A stable name for this adapter, for remembered tuning results. */
  id: string;
}

const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|software|warp|basic render/i;

// PCI vendor ids, as some drivers report them instead of a name.
const VENDOR_IDS: Record<string, string> = {
  "4318": "nvidia",
  "0x10de": "nvidia",
  "4098": "amd",
  "0x1002": "amd",
  "32902": "intel",
  "0x8086": "intel",
  "65541": "mesa", // VK_VENDOR_ID_MESA (lavapipe)
  "6880": "google",
  "0x1ae0": "google", // SwiftShader
  "5045": "arm",
  "0x13b5": "arm",
  "20803": "qualcomm",
  "0x5143": "qualcomm",
};

function vendorName(info: GPUAdapterInfo): string {
  const v = (info.vendor || "").toLowerCase();
  if (VENDOR_IDS[v]) return VENDOR_IDS[v];
  for (const name of ["nvidia", "amd", "intel", "apple", "arm", "qualcomm", "google", "mesa"]) {
    if (v.includes(name)) return name;
  }
  const d = (info.description || info.device || "").toLowerCase();
  if (/geforce|quadro|rtx|nvidia|tesla|h100|h200|a100/.test(d)) return "nvidia";
  if (/radeon|amd/.test(d)) return "amd";
  if (/intel|iris|uhd|arc/.test(d)) return "intel";
  if (/apple|m1|m2|m3|m4/.test(d)) return "apple";
  return v || "unknown";
}

/**
 * The profile of `adapter`, with the limits and features granted to `device`; subgroups
 * count only where `subgroupsCompile` says the shader compiler takes them.
 */
export function adapterProfile(
  adapter: GPUAdapter,
  device: GPUDevice,
  probes: { subgroupsCompile: boolean },
): AdapterProfile {
  const info = adapter.info;
  const description = info.description || info.device || "unknown adapter";
  const fallback = Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter);
  const software = fallback || SOFTWARE_NAMES.test(description) || SOFTWARE_NAMES.test(info.vendor);
  const l = device.limits;
  const limits: ProfileLimits = {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
  };
  const features = {
    subgroups: device.features.has("subgroups") && probes.subgroupsCompile,
    shaderF16: device.features.has("shader-f16"),
    timestampQuery: device.features.has("timestamp-query"),
  };
  const vendor = vendorName(info);
  const sub = info as { subgroupMinSize?: number; subgroupMaxSize?: number };
  return {
    software,
    vendor,
    architecture: info.architecture || "unknown",
    description,
    kind: software ? "software" : "gpu",
    features,
    subgroupMinSize: features.subgroups ? sub.subgroupMinSize ?? 0 : 0,
    subgroupMaxSize: features.subgroups ? sub.subgroupMaxSize ?? 0 : 0,
    limits,
    id: `${vendor}/${info.architecture || "-"}/${description}`.replace(/[^\w.\-/ ()]/g, "_"),
  };
}
