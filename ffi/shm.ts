// System V shared memory through FFI (shmget/shmat/shmdt/shmctl): the segments of the NTP SHM
// reference clock protocol, which gpsd and other time sources write (see PLATFORM.md).

import { errno, openLibc, OsError } from "./libc.ts";

const SYMBOLS = {
  shmget: { parameters: ["i32", "usize", "i32"], result: "i32" },
  shmat: { parameters: ["i32", "pointer", "i32"], result: "pointer" },
  shmdt: { parameters: ["pointer"], result: "i32" },
  shmctl: { parameters: ["i32", "i32", "pointer"], result: "i32" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
function shm(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  if (lib === null) lib = openLibc(SYMBOLS);
  return lib.symbols;
}

/** shmget's IPC_CREAT flag. */
export const IPC_CREAT = 0o1000;
/** shmctl's IPC_RMID command. */
export const IPC_RMID = 0;

/** An attached segment: `buffer` is a live view of the shared memory, not a copy. */
export interface SharedSegment {
  readonly id: number;
  readonly buffer: ArrayBuffer;
  /** Detaches (the segment itself stays). */
  detach(): void;
  /** Marks the segment for removal (IPC_RMID); it goes when the last process detaches. */
  remove(): void;
}

/**
 * Gets (with `create`, creating with permissions `perm`) the segment of `key`, `size` bytes,
 * and attaches it. Throws an OsError (EACCES when its permissions keep us out, ENOENT when it
 * does not exist and `create` is false, EINVAL when it exists with another size).
 */
export function attachSegment(
  key: number,
  size: number,
  perm: number,
  create: boolean,
): SharedSegment {
  const s = shm();
  const id = s.shmget(key | 0, BigInt(size), (create ? IPC_CREAT : 0) | (perm & 0o777));
  if (id < 0) throw new OsError("shmget", errno(), `0x${(key >>> 0).toString(16)}`);
  const p = s.shmat(id, null, 0);
  const v = p === null ? 0n : Deno.UnsafePointer.value(p);
  if (p === null || v === -1n || v === 0xffffffffffffffffn) {
    throw new OsError("shmat", errno(), `0x${(key >>> 0).toString(16)}`);
  }
  const buffer = Deno.UnsafePointerView.getArrayBuffer(p, size);
  let attached = true;
  return {
    id,
    buffer,
    detach() {
      if (!attached) return;
      attached = false;
      s.shmdt(p);
    },
    remove() {
      s.shmctl(id, IPC_RMID, null);
    },
  };
}
