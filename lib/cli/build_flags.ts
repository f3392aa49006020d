// The permissions the single-file builds (deno task compile, deno task bundle) run with.
//
// The narrowest set Deno 2.9 allows this program is --allow-all: Deno refuses reads of
// /proc/self/cmdline, /proc/self/status and /proc/thread-self/status (the signal mask, the
// capability sets and the program's own argument vector, read at every start) to anything less,
// with "Requires all access". It would buy little anyway: --allow-ffi already lets the program
// call any libc function (open, socket, execve), and the files it writes (pid file, drift file,
// statsdir, keygen's and report's outputs, saveconfig) come from the configuration and the
// command line. The fence that holds is the operating system's: the systemd unit
// (config/systemd/horae.service) with its user, capabilities, read-only file system and
// system-call filter. Narrowing to --allow-ffi plus scoped --allow-read/--allow-write needs those
// /proc reads moved into ffi/ (libc open/read), and more of them now: the background daemon
// reads /proc/self/fd and /proc/self/fdinfo to let go of its starter's descriptors. Scoping
// --allow-write to the daemon's state, log and run folders would also break the tools that
// share the binary (ntp-keygen writes keys in the working folder, `horae report -o` and
// `horae convert -o` anywhere, `horae install` below its prefix). tools/build_test.ts checks
// that Deno still refuses the /proc reads to the widest set short of --allow-all, and fails
// the day it does not, so that these flags get narrowed then.

/** `deno run` / `deno compile` flags for main.ts built into one file. */
export const RUN_FLAGS: readonly string[] = ["--allow-all", "--unstable-net"];

/** The Linux targets `deno task compile` builds, and the file each one becomes in dist/. */
export const COMPILE_TARGETS: readonly { target: string; out: string }[] = [
  { target: "x86_64-unknown-linux-gnu", out: "dist/horae-x86_64-linux" },
  { target: "aarch64-unknown-linux-gnu", out: "dist/horae-aarch64-linux" },
];

/**
 * The bundle's shebang: runs it with {@link RUN_FLAGS} under any name, so that links named
 * ntpd, ntpq, ... work from any folder (--ext=js: a link's name has no extension).
 */
export function bundleShebang(): string {
  return `#!/usr/bin/env -S deno run ${RUN_FLAGS.join(" ")} --ext=js`;
}

/**
 * `deno bundle` arguments for the deployed bundle. Minified (names kept, for stack traces and
 * `constructor.name`): V8 keeps the whole source text of the one module in its heap, 2.4 MB
 * held as a two-byte string (a few non-ASCII characters in it) against 1.3 MB of ASCII minified;
 * 4 MB less resident memory for the daemon (BENCHMARKS.md, Footprint).
 */
export const BUNDLE_ARGS: readonly string[] = ["bundle", "--minify", "--keep-names"];

/**
 * V8 flags of the deployed builds (the bundle's shebang, deno compile). A semi-space of at most
 * 1 MB keeps V8's young generation from growing to 16 MB under load and staying there: about 6 MB
 * less resident memory idle, 6 MB less under load; the server path's replies per CPU-second did
 * not change beyond run-to-run noise (deno task bench, BENCHMARKS.md, Footprint).
 */
export const V8_FLAGS: readonly string[] = ["--max-semi-space-size=1"];

/**
 * Environment of the deployed daemon, set by the bundle's shebang (`env -S`) and by the systemd
 * unit (`Environment=`, which also covers a `deno compile` binary: it cannot carry variables).
 * One glibc malloc arena instead of one per thread that allocates (the daemon runs 7 threads:
 * the event loop, 2 V8 platform workers, tokio's blocking pool for FFI `nonblocking` calls and
 * Deno's signal thread): 0.3-0.4 MB less anonymous memory idle (0.3-0.7 MB of RSS, close to
 * the noise of the file-backed pages), the server path's replies per CPU-second unchanged
 * (BENCHMARKS.md, Footprint).
 */
export const DEPLOYED_ENV: readonly string[] = ["MALLOC_ARENA_MAX=1"];

/** The deployed bundle's shebang: {@link bundleShebang}'s with {@link DEPLOYED_ENV}, {@link V8_FLAGS}. */
export function deployedShebang(): string {
  const flags = RUN_FLAGS.join(" ");
  return bundleShebang()
    .replace(flags, `${flags} --v8-flags=${V8_FLAGS.join(",")}`)
    .replace("env -S deno", `env -S ${DEPLOYED_ENV.join(" ")} deno`);
}

/** Replaces the bundle's first line (main.ts's shebang) with the deployed one. */
export function withShebang(js: string): string {
  const body = js.startsWith("#!") ? js.slice(js.indexOf("\n") + 1) : js;
  return `${deployedShebang()}\n${body}`;
}
