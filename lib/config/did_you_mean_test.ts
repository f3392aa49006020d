// Tests of the "did you mean" suggestions.

import assert from "node:assert/strict";
import { closestWord, didYouMean, editDistance } from "./did_you_mean.ts";

Deno.test("editDistance() counts a swap of neighbours as one edit", () => {
  assert.equal(editDistance("ibrust", "iburst"), 1);
  assert.equal(editDistance("sever", "server"), 1);
  assert.equal(editDistance("server", "server"), 0);
  assert.equal(editDistance("abc", ""), 3);
  assert.equal(editDistance("kitten", "sitting"), 3);
});

Deno.test("closestWord() finds likely typos and nothing for unrelated words", () => {
  const words = ["server", "peer", "pool", "iburst", "burst", "minpoll", "maxpoll"];
  assert.equal(closestWord("sever", words), "server");
  assert.equal(closestWord("ibrust", words), "iburst");
  assert.equal(closestWord("MINPOL", words), "minpoll");
  assert.equal(closestWord("frobnicate", words), null);
  assert.equal(closestWord("server", words), null, "an exact word needs no suggestion");
  assert.equal(closestWord("pol", ["pool", "peer"]), "pool");
});

Deno.test("didYouMean() renders the suggestion or nothing", () => {
  assert.equal(didYouMean("prefr", ["prefer", "preempt"]), ' (did you mean "prefer"?)');
  assert.equal(didYouMean("zzz", ["prefer"]), "");
});
