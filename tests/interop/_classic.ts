// Runs Horae's one-shot tools under their classic names (ntpdate, ntptrace, ntptime, tickadj)
// through a multi-call link to the single-file bundle, as an installed system would, always
// without CAP_SYS_TIME when root (a process that is not root has no such capability anyway).

import { bundle, isRoot, NO_SYS_TIME, Proc, tempDir } from "../support/peers.ts";

let links: Promise<string> | null = null;

/** A folder with links ntpdate, ntptrace, ntptime and tickadj to the bundle (made once). */
function linkDir(): Promise<string> {
  links ??= (async () => {
    const dir = await tempDir("classic-");
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* gone */ }
    });
    const target = await bundle();
    for (const name of ["ntpdate", "ntptrace", "ntptime", "tickadj"]) {
      await Deno.symlink(target, `${dir}/${name}`);
    }
    return dir;
  })();
  return links;
}

/** What a run printed. */
export interface ClassicRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs Horae as `name` (a link to the bundle) with `args`, in network namespace `netns` when
 * given, without CAP_SYS_TIME. Bounded by `timeoutMs`.
 */
export async function runClassic(
  name: "ntpdate" | "ntptrace" | "ntptime" | "tickadj",
  args: string[],
  opts: { netns?: string; timeoutMs?: number } = {},
): Promise<ClassicRun> {
  const link = `${await linkDir()}/${name}`;
  const cmd = [
    ...(opts.netns ? ["ip", "netns", "exec", opts.netns] : []),
    ...(isRoot() ? NO_SYS_TIME : []),
    Deno.execPath(),
    "run",
    "--allow-all",
    "--unstable-net",
    "--ext=js",
    link,
    ...args,
  ];
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { LC_ALL: "C" },
    signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs a peer program (NTPsec's ntptime, ntpdig, ntptrace) the same way; stdout and stderr. */
export async function runPeer(
  cmd: string[],
  opts: { netns?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<ClassicRun> {
  const full = [
    ...(opts.netns ? ["ip", "netns", "exec", opts.netns] : []),
    ...(isRoot() ? NO_SYS_TIME : []),
    ...cmd,
  ];
  const p = new Proc(full, { env: { LC_ALL: "C", ...opts.env } });
  const st = await p.wait(opts.timeoutMs ?? 60_000);
  return { code: st.code, stdout: p.output, stderr: "" };
}
