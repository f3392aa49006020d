// A million distinct source addresses through the daemon's packet path (in-memory network): the
// memory the daemon keeps does not grow with the number of clients. Runs in a child process with
// the garbage collector exposed, so the heap is measured after a collection, not with garbage.

import assert from "node:assert/strict";

const SCRIPT = new URL("./_million_sources.ts", import.meta.url).pathname;

interface Report {
  checkpoints: { sent: number; heapMb: number; rssMb: number }[];
  received: number;
  processed: number;
  drops: number;
  mru: { entries: number; capacity: number; added: number; recycled: number; notRecorded: number };
}

Deno.test("Daemon fed 1,000,000 distinct source addresses keeps its memory bounded", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--v8-flags=--expose-gc", SCRIPT, "1000000"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `${text}\n${new TextDecoder().decode(out.stderr)}`);
  const r = JSON.parse(text.trim().split("\n").at(-1)!) as Report;
  assert.equal(r.received, 1_000_000);
  assert.equal(r.received, r.processed + r.drops);
  // The MRU list is allocated once: full, never beyond its bound; every new client was either
  // recorded (in a free place or an old client's) or refused a place.
  assert.equal(r.mru.entries, r.mru.capacity);
  assert.equal(r.mru.added + r.mru.notRecorded, 1_000_000);
  assert.ok(r.mru.recycled > 0, "old clients gave way to new ones");
  // After a collection the heap holds what the daemon keeps: flat from 200,000 clients to
  // 1,000,000 (within 1 MB), and RSS with it (within 16 MB).
  const at = (n: number) => r.checkpoints.find((c) => c.sent >= n)!;
  const early = at(200_000);
  const last = r.checkpoints.at(-1)!;
  assert.ok(
    last.heapMb - early.heapMb < 1,
    `heap ${early.heapMb.toFixed(2)} MB -> ${last.heapMb.toFixed(2)} MB`,
  );
  assert.ok(
    last.rssMb - early.rssMb < 16,
    `RSS ${early.rssMb.toFixed(1)} -> ${last.rssMb.toFixed(1)} MB`,
  );
});
