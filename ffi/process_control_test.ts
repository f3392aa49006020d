import assert from "node:assert/strict";
import { commName, setThreadName, TASK_COMM_LEN, threadName } from "./process_control.ts";

Deno.test("commName() keeps at most 15 bytes and never cuts a UTF-8 character in half", () => {
  assert.deepEqual(commName("ntpd"), new TextEncoder().encode("ntpd\0"));
  assert.equal(commName("a-very-long-program-name").length, TASK_COMM_LEN);
  // 14 ASCII bytes then a 2-byte character: the character does not fit and is left out whole.
  const cut = commName("abcdefghijklmné");
  assert.equal(
    new TextDecoder("utf-8", { fatal: true }).decode(cut.subarray(0, -1)),
    "abcdefghijklmn",
  );
});

Deno.test("setThreadName() names the calling thread as /proc and PR_GET_NAME see it", () => {
  const before = threadName();
  try {
    setThreadName("horae-test");
    assert.equal(threadName(), "horae-test");
    assert.equal(Deno.readTextFileSync("/proc/thread-self/comm").trim(), "horae-test");
  } finally {
    setThreadName(before);
  }
});
