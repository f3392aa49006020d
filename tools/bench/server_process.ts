// A benchmarked server process: started without CAP_SYS_TIME (setpriv), optionally inside a
// CPU-capped cgroup from its first instruction, probed until it answers, stopped by its PID.

import type { CpuCgroup } from "./cgroup.ts";
import { probeServer, readCpuSec, readRssKb } from "./loadgen.ts";

/** Drops CAP_SYS_TIME for good, so nothing benchmarked can change this machine's clock. */
export const NO_SYS_TIME = ["setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", "--"];

/** How to start one server. */
export interface ServerSpec {
  /** Label in reports ("chronyd", "horae"). */
  label: string;
  /** The command (setpriv and the cgroup are added by `ServerProcess.start`). */
  command: string[];
  /** UDP port it answers on, on 127.0.0.1. */
  port: number;
  /** Working directory. */
  cwd?: string;
}

/** What a stopped server left behind. */
export interface ServerExit {
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
}

const MAX_CAPTURE = 1 << 20;

async function capture(stream: ReadableStream<Uint8Array>, sink: { text: string }): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    // Keep the first MiB: enough for logs and the JSON lines, bounded whatever the server prints.
    if (sink.text.length < MAX_CAPTURE) sink.text += decoder.decode(chunk, { stream: true });
  }
}

/** A running server. */
export class ServerProcess {
  /** The server's PID (setpriv and the cgroup wrapper exec into it). */
  readonly pid: number;
  readonly label: string;
  readonly port: number;
  /** Stratum of the first valid reply. */
  readonly stratum: number;
  readonly #child: Deno.ChildProcess;
  readonly #out: { text: string };
  readonly #err: { text: string };
  readonly #readers: Promise<void>[];
  #exit: Promise<ServerExit> | null = null;

  private constructor(
    spec: ServerSpec,
    child: Deno.ChildProcess,
    out: { text: string },
    err: { text: string },
    readers: Promise<void>[],
    stratum: number,
  ) {
    this.pid = child.pid;
    this.label = spec.label;
    this.port = spec.port;
    this.#child = child;
    this.#out = out;
    this.#err = err;
    this.#readers = readers;
    this.stratum = stratum;
  }

  /**
   * Starts the server (in `cgroup` when given) and waits until it answers a request with a
   * valid synchronised reply. Throws, with the server's stderr, when it exits or stays silent
   * for `readyTimeoutMs`.
   */
  static async start(
    spec: ServerSpec,
    cgroup: CpuCgroup | null,
    readyTimeoutMs = 20_000,
  ): Promise<ServerProcess> {
    const guarded = [...NO_SYS_TIME, ...spec.command];
    const argv = cgroup === null ? guarded : cgroup.wrap(guarded);
    const child = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
    }).spawn();
    const out = { text: "" };
    const err = { text: "" };
    const readers = [capture(child.stdout, out), capture(child.stderr, err)];
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    const ready = await Promise.race([
      probeServer(spec.port, readyTimeoutMs),
      status.then(() => null),
    ]);
    if (ready === null || exited) {
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await status;
      await Promise.allSettled(readers);
      throw new Error(
        `${spec.label} did not become ready on port ${spec.port}` +
          `${exited ? " (it exited)" : ""}: ${err.text.slice(-2000)}`,
      );
    }
    return new ServerProcess(spec, child, out, err, readers, ready);
  }

  /** Resident memory now, kB. */
  rssKb(): number | null {
    return readRssKb(this.pid);
  }

  /** CPU seconds used so far (all threads). */
  cpuSec(): number | null {
    return readCpuSec(this.pid);
  }

  /** Sends a signal (ignored when the process is gone). */
  signal(sig: Deno.Signal): void {
    try {
      this.#child.kill(sig);
    } catch {
      // Gone already.
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs = 3000): Promise<ServerExit> {
    if (this.#exit !== null) return this.#exit;
    this.#exit = (async () => {
      this.signal("SIGTERM");
      const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
      const s = await this.#child.status;
      clearTimeout(timer);
      await Promise.allSettled(this.#readers);
      return { code: s.code, signal: s.signal, stdout: this.#out.text, stderr: this.#err.text };
    })();
    return this.#exit;
  }
}
