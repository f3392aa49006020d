// CPU caps for benchmarked servers: one child cgroup per server with a CFS bandwidth quota
// (cgroup v1 `cpu` controller, or cgroup v2 `cpu.max` where the cpu controller is on v2).

/** Where the cpu controller lives on this machine. */
export interface CgroupSupport {
  ok: boolean;
  version: 1 | 2 | null;
  /** The directory child groups are made in. */
  root: string;
  /** Why capping cannot work, when it cannot. */
  reason: string;
}

const V1_ROOT = "/sys/fs/cgroup/cpu";
const V2_ROOTS = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"];

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Finds a writable cpu controller: cgroup v1 first, then a v2 hierarchy with "cpu" enabled. */
export function cgroupSupport(): CgroupSupport {
  if (readText(`${V1_ROOT}/cpu.cfs_quota_us`) !== null) {
    return { ok: true, version: 1, root: V1_ROOT, reason: "" };
  }
  for (const root of V2_ROOTS) {
    const controllers = readText(`${root}/cgroup.controllers`);
    if (controllers === null) continue;
    if (!controllers.split(/\s+/).includes("cpu")) continue;
    return { ok: true, version: 2, root, reason: "" };
  }
  return {
    ok: false,
    version: null,
    root: "",
    reason: "no cpu cgroup controller (neither /sys/fs/cgroup/cpu nor a cgroup2 with cpu)",
  };
}

/** Options of a capped group. */
export interface CpuCgroupOptions {
  /** Group name (made unique by the caller; created under the controller's root). */
  name: string;
  /** Share of one core, e.g. 0.5 for 50 %. */
  cores: number;
  /** CFS period in µs (default 100 000, the kernel's and Docker's default). */
  periodUs?: number;
}

/** CFS throttling counters of a group. */
export interface CgroupThrottling {
  periods: number;
  throttledPeriods: number;
  throttledSec: number;
}

/**
 * A child cgroup with a CPU quota. Put a process in it before it starts with `wrap()` (every
 * thread it ever creates is then capped). `remove()` deletes the group once its processes have
 * exited.
 */
export class CpuCgroup {
  /** The group's directory. */
  readonly path: string;
  /** cgroup version in use. */
  readonly version: 1 | 2;
  /** Share of one core. */
  readonly cores: number;
  /** CFS period, µs. */
  readonly periodUs: number;
  #removed = false;

  private constructor(path: string, version: 1 | 2, cores: number, periodUs: number) {
    this.path = path;
    this.version = version;
    this.cores = cores;
    this.periodUs = periodUs;
  }

  /** Creates the group and sets its quota (throws with the reason when that is impossible). */
  static create(options: CpuCgroupOptions): CpuCgroup {
    const support = cgroupSupport();
    if (!support.ok || support.version === null) throw new Error(support.reason);
    if (!/^[A-Za-z0-9_.-]+$/.test(options.name)) {
      throw new TypeError(`bad cgroup name "${options.name}"`);
    }
    if (!(options.cores > 0 && options.cores <= 64)) {
      throw new RangeError(`cgroup quota ${options.cores} cores is out of range`);
    }
    const periodUs = Math.round(options.periodUs ?? 100_000);
    if (!(periodUs >= 1000 && periodUs <= 1_000_000)) {
      throw new RangeError(`CFS period ${periodUs} µs is not in 1000..1000000`);
    }
    const quotaUs = Math.max(1000, Math.round(options.cores * periodUs));
    const path = `${support.root}/${options.name}`;
    Deno.mkdirSync(path);
    const group = new CpuCgroup(path, support.version, options.cores, periodUs);
    try {
      if (support.version === 1) {
        Deno.writeTextFileSync(`${path}/cpu.cfs_period_us`, `${periodUs}`);
        Deno.writeTextFileSync(`${path}/cpu.cfs_quota_us`, `${quotaUs}`);
      } else {
        Deno.writeTextFileSync(`${path}/cpu.max`, `${quotaUs} ${periodUs}`);
      }
    } catch (e) {
      group.remove();
      throw e;
    }
    return group;
  }

  /** The file a PID is written to in order to move a whole process into the group. */
  get procsFile(): string {
    return `${this.path}/cgroup.procs`;
  }

  /**
   * A command line that joins the group and then execs `command` (same PID), so the process is
   * capped from its first instruction.
   */
  wrap(command: readonly string[]): string[] {
    return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', this.procsFile, ...command];
  }

  /** Throttling counters so far. */
  throttling(): CgroupThrottling {
    const text = readText(`${this.path}/cpu.stat`) ?? "";
    const get = (key: string) => {
      const m = new RegExp(`^${key} (\\d+)$`, "m").exec(text);
      return m === null ? 0 : Number(m[1]);
    };
    return this.version === 1
      ? {
        periods: get("nr_periods"),
        throttledPeriods: get("nr_throttled"),
        throttledSec: get("throttled_time") / 1e9,
      }
      : {
        periods: get("nr_periods"),
        throttledPeriods: get("nr_throttled"),
        throttledSec: get("throttled_usec") / 1e6,
      };
  }

  /**
   * Deletes the group. Its processes must have exited (the caller stops them first); returns
   * false when the group could not be removed (still busy), true when it is gone.
   */
  remove(): boolean {
    if (this.#removed) return true;
    try {
      Deno.removeSync(this.path);
      this.#removed = true;
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        this.#removed = true;
        return true;
      }
      return false;
    }
  }
}
