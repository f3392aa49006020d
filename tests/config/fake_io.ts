// A CliIo that records everything, for calling runCheck/runConvert directly in tests.

import type { CliIo } from "../../lib/cli/check.ts";

/** Captured output of a fake CLI run. */
export interface FakeIo {
  io: CliIo;
  /** Everything written to stdout, joined. */
  stdout(): string;
  /** Everything written to stderr, joined. */
  stderr(): string;
  /** Files written through `writeFile`. */
  files: Map<string, string>;
}

/** Creates a recording CliIo whose stdin yields `stdin`. */
export function fakeIo(stdin: string | Uint8Array = ""): FakeIo {
  const out: string[] = [];
  const err: string[] = [];
  const files = new Map<string, string>();
  return {
    io: {
      stdout: (t) => void out.push(t),
      stderr: (t) => void err.push(t),
      readStdin: () =>
        Promise.resolve(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin),
      writeFile: (p, t) => {
        files.set(p, t);
        return Promise.resolve();
      },
    },
    stdout: () => out.join(""),
    stderr: () => err.join(""),
    files,
  };
}
