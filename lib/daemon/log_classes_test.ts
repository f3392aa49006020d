import assert from "node:assert/strict";
import { PeerEvent, SystemEvent } from "../proto/events.ts";
import { eventClass, parseLogConfig } from "./log_classes.ts";

const sorted = (s: Set<string>) => [...s].sort();

Deno.test("parseLogConfig() enables every class by default", () => {
  assert.deepEqual(sorted(parseLogConfig([]).classes), ["clock", "peer", "sync", "sys"]);
});

Deno.test("parseLogConfig() sets, adds and removes classes like ntpd's logconfig", () => {
  assert.deepEqual(sorted(parseLogConfig(["=syncall"]).classes), ["sync"]);
  assert.deepEqual(sorted(parseLogConfig(["=syncall", "+clockevents"]).classes), [
    "clock",
    "sync",
  ]);
  assert.deepEqual(sorted(parseLogConfig(["-peerall"]).classes), ["clock", "sync", "sys"]);
  assert.deepEqual(sorted(parseLogConfig(["sysinfo", "peerstatus"]).classes), ["peer", "sys"]);
  assert.deepEqual(sorted(parseLogConfig(["=all", "-sysall"]).classes), ["clock", "peer", "sync"]);
});

Deno.test("parseLogConfig() reports unknown tokens and ignores them", () => {
  const r = parseLogConfig(["+bogusall", "-syncmumble"]);
  assert.deepEqual(r.unknown, ["+bogusall", "-syncmumble"]);
  assert.deepEqual(sorted(r.classes), ["clock", "peer", "sync", "sys"]);
});

Deno.test("eventClass() files selection under sync, steps under clock, the rest by scope", () => {
  assert.equal(eventClass("peer", PeerEvent.NEWPEER), "sync");
  assert.equal(eventClass("peer", PeerEvent.REACH), "peer");
  assert.equal(eventClass("system", SystemEvent.NOPEER), "sync");
  assert.equal(eventClass("system", SystemEvent.CLOCKRESET), "clock");
  assert.equal(eventClass("system", SystemEvent.SYSFAULT), "sys");
});
