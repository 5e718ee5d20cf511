/** An error from the GPU layer; the message names the op and what to do. */
export class GpuError extends Error {
  /** Always "GpuError". */
  override name = "GpuError";
}
