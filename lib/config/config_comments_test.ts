// Tests of comment grouping used by `horae convert`.

import assert from "node:assert/strict";
import {
  addComments,
  emptyComments,
  groupOfCommentedCommand,
  groupOfKey,
} from "./config_comments.ts";

Deno.test("groupOfCommentedCommand() recognises commented-out commands", () => {
  assert.equal(groupOfCommentedCommand("server ntp.example iburst"), "sources");
  assert.equal(groupOfCommentedCommand(" server 127.127.1.0"), "refclocks");
  assert.equal(groupOfCommentedCommand("restrict 10.0.0.0 mask 255.0.0.0"), "access");
  assert.equal(groupOfCommentedCommand("statistics loopstats"), "stats");
  assert.equal(groupOfCommentedCommand(" server is down on Sundays"), "sources");
  assert.equal(groupOfCommentedCommand("Servers in the office"), null);
  assert.equal(groupOfCommentedCommand("keys"), null);
});

Deno.test("groupOfKey() maps element keys to TOML groups", () => {
  assert.equal(groupOfKey("sources.3"), "sources");
  assert.equal(groupOfKey("refclocks.0"), "refclocks");
  assert.equal(groupOfKey("files.driftFile"), "daemon");
  assert.equal(groupOfKey("tinker"), "tuning");
  assert.equal(groupOfKey("nothing"), null);
});

Deno.test("addComments() appends before or after an element", () => {
  const c = emptyComments();
  addComments(c, "tos", ["a"]);
  addComments(c, "tos", ["b"]);
  addComments(c, "tos", ["z"], "after");
  addComments(c, "tos", []);
  assert.deepEqual(c.byKey.get("tos"), ["a", "b"]);
  assert.deepEqual(c.after.get("tos"), ["z"]);
});
