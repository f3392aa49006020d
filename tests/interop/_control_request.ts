// Shared by the control interop tests (control_test, reload_test): one mode 6 request sent from
// a chosen source address inside a network namespace by the helper client _control_client.ts,
// signed with a control key or not, and its outcome as that client reports it.

import { ROOT, runGuarded } from "../support/peers.ts";

/** A control key as the helper client takes it: id, type ("MD5", ...) and secret text. */
export interface ControlKey {
  id: number;
  type: string;
  secret: string;
}

/** What the helper client reports of one request. */
export interface ControlOutcome {
  outcome: string;
  error: number;
  text: string;
}

/**
 * Sends mode 6 `opcode` with `text` from `source` to 127.0.0.1 inside `ns` (signed with `key`
 * unless null) through the helper client; its JSON outcome (its last output line).
 */
export async function controlFrom(
  ns: string,
  source: string,
  opcode: number,
  text: string,
  key: ControlKey | null,
): Promise<ControlOutcome> {
  const r = await runGuarded([
    Deno.execPath(),
    "run",
    "--allow-all",
    "--unstable-net",
    `${ROOT}tests/interop/_control_client.ts`,
    source,
    "127.0.0.1",
    String(opcode),
    text,
    ...(key !== null ? [String(key.id), key.type, key.secret] : []),
  ], { netns: ns, timeoutMs: 30_000 });
  return JSON.parse(r.output.trim().split("\n").pop()!) as ControlOutcome;
}
