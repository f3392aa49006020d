// Records skipped interop tests in .tmp/skipped.txt so CI can fail a run in which a real peer
// was missing (TESTING.md: skipping is fine on a laptop, never in CI).

/** The repository's `.tmp/skipped.txt`. */
export const SKIPS_FILE: string = new URL("../../.tmp/skipped.txt", import.meta.url).pathname;

/**
 * Prints `skipped: <why> (<name>)` on stderr and appends `<ISO time>\t<name>\t<why>` to
 * `.tmp/skipped.txt`, creating the directory.
 */
export async function recordSkip(
  name: string,
  why: string,
  file: string = SKIPS_FILE,
): Promise<void> {
  const oneLine = (s: string) => s.replace(/[\t\r\n]+/g, " ");
  await Deno.stderr.write(
    new TextEncoder().encode(`skipped: ${oneLine(why)} (${oneLine(name)})\n`),
  );
  const dir = file.slice(0, file.lastIndexOf("/"));
  if (dir !== "") await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    file,
    `${new Date().toISOString()}\t${oneLine(name)}\t${oneLine(why)}\n`,
    { append: true },
  );
}
