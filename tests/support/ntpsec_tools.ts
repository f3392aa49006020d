// Finds NTPsec's tools for interop tests: on PATH, in the usual sbin/bin directories, or in the
// cache that tools/fetch_ntpsec.sh fills by extracting Debian's ntpsec package without installing.

/** Where tools/fetch_ntpsec.sh extracts the ntpsec package (a root filesystem layout). */
export const NTPSEC_CACHE_DIR: string =
  new URL("../../.tmp/peers/ntpsec", import.meta.url).pathname;

/** True when `path` is an executable regular file. */
async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && info.mode !== null && (info.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * True when `path` is a real `ntptime`, not a link to Horae's own multi-call binary (comparing
 * Horae with itself would prove nothing).
 */
async function isForeignNtptime(path: string): Promise<boolean> {
  try {
    const real = await Deno.realPath(path);
    return real.slice(real.lastIndexOf("/") + 1) === "ntptime";
  } catch {
    return false;
  }
}

/**
 * Path of an `ntptime` program: PATH first, then /usr/sbin and /usr/bin, then the cache
 * (`<cacheDir>/usr/sbin` where Debian puts it, or `<cacheDir>/usr/bin`). Null when none is found.
 */
export async function findNtptime(cacheDir: string = NTPSEC_CACHE_DIR): Promise<string | null> {
  const pathDirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  const dirs = [
    ...pathDirs,
    "/usr/sbin",
    "/usr/bin",
    `${cacheDir}/usr/sbin`,
    `${cacheDir}/usr/bin`,
  ];
  for (const dir of dirs) {
    const candidate = `${dir}/ntptime`;
    if (await isExecutable(candidate) && await isForeignNtptime(candidate)) return candidate;
  }
  return null;
}
