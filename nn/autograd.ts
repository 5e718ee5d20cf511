// Reverse-mode autograd: walk the graph from the output in reverse topological order,
// ask each op's GradFn for its inputs' gradients, sum the gradients of a tensor used more
// than once, and accumulate into the .grad of leaves that require grad.

import { gpu } from "../kernels/device.ts";
import * as ew from "../kernels/elementwise.ts";
import { Tensor } from "./tensor.ts";

export function runBackward(root: Tensor, seed?: Tensor): void {
  if (!root.requiresGrad) {
    throw new Error(
      `backward(): ${root} does not require grad (no input requires grad, or it was ` +
        `computed under noGrad)`,
    );
  }
  if (!seed && root.size !== 1) {
    throw new Error(`backward(): ${root} is not a scalar; pass the gradient of the output`);
  }
  if (seed && seed.size !== root.size) {
    throw new Error(`backward(): gradient [${seed.shape}] does not match output [${root.shape}]`);
  }
  const g = gpu();
  const grads = new Map<Tensor, Tensor>();
  // How many entries of `grads` hold each gradient object (an op may pass one gradient on
  // to several inputs); a gradient is disposed when none does and it is not the caller's.
  const holders = new Map<Tensor, number>();
  const hold = (t: Tensor, d: number) => holders.set(t, (holders.get(t) ?? 0) + d);
  const release = (t: Tensor) => {
    hold(t, -1);
    if (holders.get(t) === 0 && t !== seed) t.dispose();
  };

  const start = seed ?? Tensor.ones(root.shape);
  grads.set(root, start);
  hold(start, 1);

  for (const node of topologicalOrder(root)) {
    const grad = grads.get(node);
    if (!grad) continue;
    grads.delete(node);
    if (!node.gradFn) {
      accumulateLeaf(node, grad, holders.get(grad) === 1 && grad !== seed);
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
        throw new Error(
          `${fn.op} backward: gradient [${gi.shape}] for input ${i} of shape [${input.shape}]`,
        );
      }
      const prev = grads.get(input);
      if (!prev) {
        grads.set(input, gi);
        hold(gi, 1);
        return;
      }
      const sum = Tensor.empty(input.shape);
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
function accumulateLeaf(leaf: Tensor, grad: Tensor, exclusive: boolean): void {
  const g = gpu();
  if (leaf.grad) {
    ew.accumulate(g, leaf.grad.buffer, grad.buffer, leaf.size);
    return;
  }
  let own: Tensor;
  if (exclusive && !grad.sharesStorage && sameShape(grad.shape, leaf.shape)) {
    own = grad.detach();
  } else {
    own = Tensor.empty(leaf.shape);
    ew.copy(g, grad.buffer, own.buffer, leaf.size);
  }
  leaf.grad = own.keep();
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Nodes that require grad, each after every node that uses it (root first). */
function topologicalOrder(root: Tensor): Tensor[] {
  const visited = new Set<Tensor>();
  const postOrder: Tensor[] = [];
  // iterative DFS: deep graphs (ResNet's ~200 ops) must not overflow the stack
  const stack: [Tensor, number][] = [[root, 0]];
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
