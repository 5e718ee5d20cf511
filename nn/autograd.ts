// Reverse-mode autograd: walk the graph from the output in reverse topological order,
// ask each op's GradFn for its inputs' gradients, sum the gradients of a tensor used more
// than once, and accumulate into the .grad of leaves that require grad.

import { ArgumentError } from "../base/errors.ts";
import { sameShape } from "../base/shape.ts";
import { gpu } from "../kernels/device.ts";
import * as ew from "../kernels/elementwise.ts";
/**
 * What autograd needs of a tensor (nn/tensor.ts's Tensor is one). Declared here rather than
 * imported, because tensor.ts calls runBackward: the two modules form no import cycle.
 */
export interface GraphNode<T extends GraphNode<T>> {
  readonly shape: readonly number[];
  readonly size: number;
  readonly requiresGrad: boolean;
  readonly gradFn: {
    readonly op: string;
    readonly inputs: readonly T[];
    backward(grad: T, needs: readonly boolean[]): (T | null)[];
  } | null;
  grad: T | null;
  readonly buffer: GPUBuffer;
  readonly sharesStorage: boolean;
  detach(): T;
  keep(): T;
  dispose(): void;
}

/** How autograd makes the tensors it needs (Tensor.backward() passes the Tensor class). */
export interface TensorMaker<T> {
  ones(shape: readonly number[]): T;
  empty(shape: readonly number[]): T;
}

export function runBackward<T extends GraphNode<T>>(
  root: T,
  seed: T | undefined,
  make: TensorMaker<T>,
): void {
  if (!root.requiresGrad) {
    throw new ArgumentError(
      `backward(): ${root} does not require grad (no input requires grad, or it was ` +
        `computed under noGrad)`,
    );
  }
  if (!seed && root.size !== 1) {
    throw new ArgumentError(`backward(): ${root} is not a scalar; pass the gradient of the output`);
  }
  if (seed && seed.size !== root.size) {
    throw new ArgumentError(
      `backward(): gradient [${seed.shape}] does not match output [${root.shape}]`,
    );
  }
  const g = gpu();
  const grads = new Map<T, T>();
  // How many entries of `grads` hold each gradient object (an op may pass one gradient on
  // to several inputs); a gradient is disposed when none does and it is not the caller's.
  const holders = new Map<T, number>();
  const hold = (t: T, d: number) => holders.set(t, (holders.get(t) ?? 0) + d);
  const release = (t: T) => {
    hold(t, -1);
    if (holders.get(t) === 0 && t !== seed) t.dispose();
  };

  const start = seed ?? make.ones(root.shape);
  grads.set(root, start);
  hold(start, 1);

  for (const node of topologicalOrder(root)) {
    const grad = grads.get(node);
    if (!grad) continue;
    grads.delete(node);
    if (!node.gradFn) {
      accumulateLeaf(node, grad, holders.get(grad) === 1 && grad !== seed, make);
      release(grad);
      continue;
    }
    const fn = node.gradFn;
    const needs = fn.inputs.map((t) => t.requiresGrad);
    const inputGrads = fn.backward(grad, needs);
    inputGrads.forEach((gi, i) => {
      if (!gi || !needs[i]) return;
      const input = fn.inputs[i];
      if (gi.size !== input.size) {
        throw new ArgumentError(
          `${fn.op} backward: gradient [${gi.shape}] for input ${i} of shape [${input.shape}]`,
        );
      }
      const prev = grads.get(input);
      if (!prev) {
        grads.set(input, gi);
        hold(gi, 1);
        return;
      }
      const sum = make.empty(input.shape);
      ew.add(g, prev.buffer, gi.buffer, sum.buffer, input.size);
      grads.set(input, sum);
      hold(sum, 1);
      release(prev);
      if (!holders.has(gi)) hold(gi, 0); // a fresh gradient held by nobody else
      if (holders.get(gi) === 0 && gi !== grad && gi !== seed) gi.dispose();
    });
    release(grad);
  }
}

/** Adds `grad` into leaf.grad; adopts it without a copy when nothing else refers to it. */
function accumulateLeaf<T extends GraphNode<T>>(
  leaf: T,
  grad: T,
  exclusive: boolean,
  make: TensorMaker<T>,
): void {
  const g = gpu();
  if (leaf.grad) {
    ew.accumulate(g, leaf.grad.buffer, grad.buffer, leaf.size);
    return;
  }
  let own: T;
  if (exclusive && !grad.sharesStorage && sameShape(grad.shape, leaf.shape)) {
    own = grad.detach();
  } else {
    own = make.empty(leaf.shape);
    ew.copy(g, grad.buffer, own.buffer, leaf.size);
  }
  leaf.grad = own.keep();
}

/** Nodes that require grad, each after every node that uses it (root first). */
function topologicalOrder<T extends GraphNode<T>>(root: T): T[] {
  const visited = new Set<T>();
  const postOrder: T[] = [];
  // iterative DFS: deep graphs (ResNet's ~200 ops) must not overflow the stack
  const stack: [T, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, next] = top;
    const inputs = node.gradFn?.inputs ?? [];
    if (next < inputs.length) {
      top[1]++;
      const child = inputs[next];
      if (child.requiresGrad && !visited.has(child)) {
        visited.add(child);
        stack.push([child, 0]);
      }
    } else {
      postOrder.push(node);
      stack.pop();
    }
  }
  return postOrder.reverse();
}
