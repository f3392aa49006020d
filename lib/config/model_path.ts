// Dotted paths into the configuration model ("sources.2.minpollLog2", "auth.crypto.pw"): the
// one way the readers, the writer and the checks address a value that the spec describes.

/** Joins path pieces, skipping empty ones ("" and "fudge" → "fudge"). */
export function joinPath(...parts: (string | number)[]): string {
  return parts.filter((p) => p !== "").join(".");
}

/** The value at `path` in `root` (undefined when any step is missing). */
export function getPath(root: unknown, path: string): unknown {
  if (path === "") return root;
  let node: unknown = root;
  for (const key of path.split(".")) {
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** The object at `path`, created (with its parents) when missing. */
export function objectAt(root: Record<string, unknown>, path: string): Record<string, unknown> {
  let node = root;
  if (path === "") return node;
  for (const key of path.split(".")) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === null || typeof next !== "object") {
      const fresh: Record<string, unknown> = {};
      node[key] = fresh;
      node = fresh;
    } else {
      node = next as Record<string, unknown>;
    }
  }
  return node;
}

/** Sets the value at `path`, creating parent objects as needed. */
export function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const dot = path.lastIndexOf(".");
  const parent = dot < 0 ? root : objectAt(root, path.slice(0, dot));
  parent[dot < 0 ? path : path.slice(dot + 1)] = value;
}
