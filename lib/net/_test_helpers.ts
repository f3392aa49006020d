// Helpers shared by the transport tests of this folder.

/** Resolves like `p`, or rejects after `ms` milliseconds naming `what`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    id = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(id);
  }
}

/** A client request (v4, mode 3) tagged with `id` in its root dispersion field. */
export function request(id: number, size = 48): Uint8Array {
  const b = new Uint8Array(size);
  b[0] = 0x23; // LI 0, version 4, mode 3
  new DataView(b.buffer).setUint32(8, id);
  b.fill(0xab, 40, 44); // a non-zero transmit timestamp
  return b;
}

/**
 * A finalize step that proves when it ran: copies the transmit timestamp (bytes 40–47, as the
 * transport stamped it) to bytes 48–55, and counts its calls.
 */
export class CopyTransmit {
  calls = 0;
  finalize(buffer: Uint8Array, length: number): void {
    this.calls++;
    if (length >= 56) buffer.copyWithin(48, 40, 48);
  }
}
