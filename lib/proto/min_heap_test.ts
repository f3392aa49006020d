import assert from "node:assert/strict";
import fc from "fast-check";
import { MinHeap } from "./min_heap.ts";

Deno.test("MinHeap pops items in ascending order", () => {
  fc.assert(
    fc.property(fc.array(fc.integer()), (xs) => {
      const h = new MinHeap<number>((a, b) => a < b);
      for (const x of xs) h.push(x);
      assert.equal(h.size, xs.length);
      const out: number[] = [];
      while (h.size > 0) out.push(h.pop()!);
      assert.deepEqual(out, [...xs].sort((a, b) => a - b));
      assert.equal(h.pop(), undefined);
      assert.equal(h.peek(), undefined);
    }),
  );
});
