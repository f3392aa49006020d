// Tests of the shared construction rules: restrict defaults and canonical ordering.

import assert from "node:assert/strict";
import { normalizeConfig, restrictRulesFor, sortFlags, sortStats } from "./normalize.ts";
import { emptyConfig } from "./config_model.ts";

Deno.test("restrictRulesFor() splits a family-less default into IPv4 and IPv6", () => {
  assert.deepEqual(restrictRulesFor("default", "any", null, ["nomodify", "kod", "kod"]), [
    {
      match: "default",
      address: "0.0.0.0",
      mask: "0.0.0.0",
      family: "ipv4",
      flags: ["kod", "nomodify"],
    },
    { match: "default", address: "::", mask: "::", family: "ipv6", flags: ["kod", "nomodify"] },
  ]);
  assert.equal(restrictRulesFor("default", "ipv6", null, []).length, 1);
});

Deno.test("restrictRulesFor() gives literals a host mask and their family", () => {
  assert.deepEqual(restrictRulesFor("192.0.2.7", "any", null, []), [
    {
      match: "address",
      address: "192.0.2.7",
      mask: "255.255.255.255",
      family: "ipv4",
      flags: [],
    },
  ]);
  assert.equal(restrictRulesFor("2001:db8::", "any", "ffff::", [])[0]?.mask, "ffff::");
  assert.equal(restrictRulesFor("2001:db8::", "any", null, [])[0]?.family, "ipv6");
  assert.deepEqual(restrictRulesFor("host.example", "any", null, ["ignore"])[0]?.mask, null);
  assert.deepEqual(restrictRulesFor("source", "any", null, [])[0]?.match, "source");
  // A prefix length is the same rule as the address with its mask.
  assert.deepEqual(restrictRulesFor("192.0.2.7/24", "any", null, ["kod"]), [
    {
      match: "address",
      address: "192.0.2.0",
      mask: "255.255.255.0",
      family: "ipv4",
      flags: ["kod"],
    },
  ]);
  assert.equal(restrictRulesFor("2001:db8::/32", "any", null, [])[0]?.mask, "ffff:ffff::");
});

Deno.test("sortFlags() and sortStats() give a canonical order", () => {
  assert.deepEqual(sortFlags(["version", "ignore", "kod", "ignore"]), ["ignore", "kod", "version"]);
  assert.deepEqual(sortStats(["sysstats", "loopstats", "sysstats"]), ["loopstats", "sysstats"]);
});

Deno.test("normalizeConfig() sorts keys and ties bclient to broadcastclient", () => {
  const c = emptyConfig();
  c.auth.trustedKeys = [9, 1, 9, 4];
  c.system.bclient = true;
  normalizeConfig(c);
  assert.deepEqual(c.auth.trustedKeys, [1, 4, 9]);
  assert.equal(c.broadcast.client, true);
});
