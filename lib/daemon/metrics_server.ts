// The metrics endpoint (`--metrics-listen`, `metrics` in ntp.conf, [stats] metrics in TOML): an
// HTTP server (Deno.serve) bound to exactly the configured addresses, answering GET /metrics with
// the Prometheus text exposition and GET /status with the JSON status document. It refuses a
// request whose Host header names another host (a web page that rebinds its name to 127.0.0.1
// cannot read it), and measures the event loop's lateness with a timer of its own.

import type { Logger } from "../log/logger.ts";
import type { MetricsAddress } from "../proto/options/statistics.ts";
import { LAG_BUCKETS_SEC, type LagHistogram, PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";

/** How often the lag probe's timer is due (ms). */
export const LAG_PROBE_MS = 250;

/** What the server shows and how it reports. */
export interface MetricsServerOptions {
  addresses: readonly MetricsAddress[];
  /** The Prometheus exposition now (given the lag histogram). */
  metrics(lag: LagHistogram): string;
  /** The JSON status document now. */
  status(): unknown;
  log: Logger;
}

/** `host:port` as a Host header names it (IPv6 in brackets). */
function hostPort(hostname: string, port: number): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

function isLoopback(hostname: string): boolean {
  return hostname === "::1" || hostname.startsWith("127.");
}

/** The Host header values a request to `a` may carry (lower case). */
export function allowedHosts(a: MetricsAddress): string[] {
  const out = [hostPort(a.hostname, a.port).toLowerCase()];
  if (isLoopback(a.hostname)) out.push(`localhost:${a.port}`);
  if (a.port === 80) out.push(a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname);
  return out;
}

/** Prometheus metrics and JSON status over HTTP. */
export class MetricsServer {
  readonly #o: MetricsServerOptions;
  readonly #servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  readonly #lag: LagHistogram = {
    buckets: LAG_BUCKETS_SEC.map(() => 0),
    count: 0,
    sumSec: 0,
  };
  #timer: ReturnType<typeof setTimeout> | null = null;
  #due = 0;
  /** Requests refused for their Host header. */
  refused = 0;

  constructor(options: MetricsServerOptions) {
    this.#o = options;
  }

  /** Where it listens (after {@link start}). */
  get addresses(): MetricsAddress[] {
    return this.#servers.map((s) => ({ hostname: s.addr.hostname, port: s.addr.port }));
  }

  /** The event loop lateness recorded so far. */
  get lag(): LagHistogram {
    return { ...this.#lag, buckets: [...this.#lag.buckets] };
  }

  /** Binds every address (throws, with nothing left open, when one cannot be bound). */
  start(): void {
    try {
      for (const a of this.#o.addresses) {
        // Filled in once bound: port 0 (tests) binds a port the kernel picks.
        let allowed: ReadonlySet<string> = new Set();
        const server = Deno.serve({
          hostname: a.hostname,
          port: a.port,
          onListen: () => {},
          onError: (e) => {
            this.#o.log.warn(`metrics: ${(e as Error).message}`);
            return new Response("internal error\n", { status: 500 });
          },
        }, (req) => this.#handle(req, allowed));
        allowed = new Set(allowedHosts({ hostname: a.hostname, port: server.addr.port }));
        this.#servers.push(server);
        this.#o.log.info(
          `metrics on http://${hostPort(server.addr.hostname, server.addr.port)}/metrics`,
        );
      }
    } catch (e) {
      void this.stop();
      throw e;
    }
    this.#probe();
  }

  /** Stops serving. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const servers = this.#servers.splice(0);
    await Promise.allSettled(servers.map((s) => s.shutdown()));
  }

  #handle(req: Request, allowed: ReadonlySet<string>): Response {
    const host = req.headers.get("host")?.toLowerCase();
    if (host !== undefined && !allowed.has(host)) {
      this.refused++;
      return new Response("misdirected request\n", { status: 421 });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const path = new URL(req.url).pathname;
    switch (path) {
      case "/metrics":
        return new Response(this.#o.metrics(this.lag), {
          headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" },
        });
      case "/status":
      case "/status.json":
        return new Response(`${JSON.stringify(this.#o.status(), null, 2)}\n`, {
          headers: { "content-type": "application/json", "cache-control": "no-store" },
        });
      case "/":
        return new Response("horae: /metrics (Prometheus), /status (JSON)\n", {
          headers: { "content-type": "text/plain; charset=utf-8" },
        });
      default:
        return new Response("not found\n", { status: 404 });
    }
  }

  /** The lag probe: a timer chain; each firing records how late it came. */
  #probe(): void {
    this.#due = performance.now() + LAG_PROBE_MS;
    const timer = setTimeout(() => {
      const lateSec = Math.max(0, performance.now() - this.#due) / 1000;
      const h = this.#lag;
      h.count++;
      h.sumSec += lateSec;
      LAG_BUCKETS_SEC.forEach((le, i) => {
        if (lateSec <= le) h.buckets[i]!++;
      });
      this.#probe();
    }, LAG_PROBE_MS);
    this.#timer = timer;
    Deno.unrefTimer(timer);
  }
}
