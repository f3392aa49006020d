// OpenSSL 3's libssl through Deno FFI, for NTS-KE (RFC 8915 §4): TLS 1.3 with ALPN, certificate
// checks and the RFC 5705 exporter that Deno's own TLS lacks. Sessions run over memory BIOs: the
// caller moves bytes between a socket and the session, so no OpenSSL call ever waits on the
// network and the event loop never stalls on a handshake (only the handshake's own CPU work runs
// on the calling thread). A missing library is an answer ({ok: false}), not an exception.

import { openOpenSsl } from "./libcrypto.ts";

/** Where Debian, Ubuntu, Fedora and others keep libssl 3 (absolute: FFI permissions name it). */
export const LIBSSL_PATHS = [
  "/lib/x86_64-linux-gnu/libssl.so.3",
  "/usr/lib/x86_64-linux-gnu/libssl.so.3",
  "/lib/aarch64-linux-gnu/libssl.so.3",
  "/usr/lib/aarch64-linux-gnu/libssl.so.3",
  "/usr/lib64/libssl.so.3",
  "/usr/lib/libssl.so.3",
] as const;

const SSL_SYMBOLS = {
  TLS_client_method: { parameters: [], result: "pointer" },
  TLS_server_method: { parameters: [], result: "pointer" },
  SSL_CTX_new: { parameters: ["pointer"], result: "pointer" },
  SSL_CTX_free: { parameters: ["pointer"], result: "void" },
  // long SSL_CTX_ctrl(ctx, cmd, larg, parg): min/max protocol version are macros over it.
  SSL_CTX_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  // Returns 0 on success (unlike most of OpenSSL).
  SSL_CTX_set_alpn_protos: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  SSL_CTX_set_alpn_select_cb: {
    parameters: ["pointer", "function", "pointer"],
    result: "void",
  },
  SSL_CTX_load_verify_locations: {
    parameters: ["pointer", "buffer", "pointer"],
    result: "i32",
  },
  SSL_CTX_set_default_verify_paths: { parameters: ["pointer"], result: "i32" },
  SSL_CTX_set_verify: { parameters: ["pointer", "i32", "pointer"], result: "void" },
  SSL_CTX_use_certificate_chain_file: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_CTX_use_PrivateKey_file: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_CTX_check_private_key: { parameters: ["pointer"], result: "i32" },
  SSL_CTX_set_num_tickets: { parameters: ["pointer", "usize"], result: "i32" },
  SSL_select_next_proto: {
    parameters: ["pointer", "pointer", "buffer", "u32", "pointer", "u32"],
    result: "i32",
  },
  SSL_new: { parameters: ["pointer"], result: "pointer" },
  SSL_free: { parameters: ["pointer"], result: "void" },
  SSL_set_bio: { parameters: ["pointer", "pointer", "pointer"], result: "void" },
  SSL_set_connect_state: { parameters: ["pointer"], result: "void" },
  SSL_set_accept_state: { parameters: ["pointer"], result: "void" },
  SSL_do_handshake: { parameters: ["pointer"], result: "i32" },
  SSL_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_shutdown: { parameters: ["pointer"], result: "i32" },
  SSL_get_error: { parameters: ["pointer", "i32"], result: "i32" },
  // SSL_set_tlsext_host_name is a macro over SSL_ctrl.
  SSL_ctrl: { parameters: ["pointer", "i32", "i64", "buffer"], result: "i64" },
  SSL_set1_host: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_get_verify_result: { parameters: ["pointer"], result: "i64" },
  SSL_get0_alpn_selected: { parameters: ["pointer", "buffer", "buffer"], result: "void" },
  SSL_get_version: { parameters: ["pointer"], result: "pointer" },
  // const char *SSL_get_servername(const SSL *s, int type): the SNI name, or NULL.
  SSL_get_servername: { parameters: ["pointer", "i32"], result: "pointer" },
  SSL_export_keying_material: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize", "buffer", "usize", "i32"],
    result: "i32",
  },
} as const;

// BIO and error functions live in libcrypto; libssl's handle finds them through its own
// dependency on libcrypto, so one dlopen serves both.
const CRYPTO_SYMBOLS = {
  BIO_s_mem: { parameters: [], result: "pointer" },
  BIO_new: { parameters: ["pointer"], result: "pointer" },
  BIO_free: { parameters: ["pointer"], result: "i32" },
  BIO_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  ERR_get_error: { parameters: [], result: "u64" },
  ERR_clear_error: { parameters: [], result: "void" },
  ERR_error_string_n: { parameters: ["u64", "buffer", "usize"], result: "void" },
  X509_verify_cert_error_string: { parameters: ["i64"], result: "pointer" },
} as const;

const ALL_SYMBOLS = { ...SSL_SYMBOLS, ...CRYPTO_SYMBOLS } as const;

/** The libssl (and libcrypto) functions this module binds. */
export type LibSslSymbols = Deno.DynamicLibrary<typeof ALL_SYMBOLS>["symbols"];

/** libssl opened, or why not. */
export type LibSslResult =
  | { ok: true; symbols: LibSslSymbols; path: string }
  | { ok: false; reason: string };

let opened: LibSslResult | null = null;

/**
 * Opens libssl 3 (once per thread; later calls return the same answer). Fails with a reason when
 * FFI is not permitted or no library is found.
 */
export function openLibSsl(): LibSslResult {
  opened ??= openOpenSsl(LIBSSL_PATHS, ALL_SYMBOLS, "libssl 3");
  return opened;
}

const SSL_CTRL_SET_TLSEXT_HOSTNAME = 55;
const TLSEXT_NAMETYPE_HOST_NAME = 0;
const SSL_CTRL_SET_MIN_PROTO_VERSION = 123;
const SSL_CTRL_SET_MAX_PROTO_VERSION = 124;
const SSL_VERIFY_NONE = 0;
const SSL_VERIFY_PEER = 1;
const SSL_FILETYPE_PEM = 1;
const BIO_CTRL_PENDING = 10;
const BIO_C_SET_BUF_MEM_EOF_RETURN = 130;
const OPENSSL_NPN_NEGOTIATED = 1;
const SSL_TLSEXT_ERR_OK = 0;
const SSL_TLSEXT_ERR_ALERT_FATAL = 2;

/** SSL_get_error values. */
export const SslError = {
  NONE: 0,
  SSL: 1,
  WANT_READ: 2,
  WANT_WRITE: 3,
  SYSCALL: 5,
  ZERO_RETURN: 6,
} as const;

/** TLS versions as `nts mintls` / `maxtls` name them. */
export const TLS_VERSIONS = { "TLS1.2": 0x0303, "TLS1.3": 0x0304 } as const;
/** A TLS version name. */
export type TlsVersionName = keyof typeof TLS_VERSIONS;

/** How to build a context. */
export interface TlsContextOptions {
  readonly role: "client" | "server";
  /** The one ALPN protocol offered (client) or accepted (server). */
  readonly alpn: string;
  readonly minVersion: TlsVersionName;
  readonly maxVersion: TlsVersionName;
  /** Client: trusted certificates (PEM file); null: the system's store. */
  readonly caFile?: string | null;
  /** Client: false turns certificate checks off (tests only). */
  readonly verify?: boolean;
  /** Server: certificate chain (PEM, leaf first). */
  readonly certFile?: string;
  /** Server: private key (PEM). */
  readonly keyFile?: string;
}

const enc = new TextEncoder();
const cstr = (s: string) => enc.encode(s + "\0");

/** A length-prefixed ALPN list of one protocol. */
function alpnWire(proto: string): Uint8Array {
  const p = enc.encode(proto);
  if (p.length === 0 || p.length > 255) throw new RangeError("ALPN name must be 1–255 bytes");
  return new Uint8Array([p.length, ...p]);
}

/** Drains OpenSSL's error queue of this thread into one message. */
export function opensslErrors(s: LibSslSymbols): string {
  const out: string[] = [];
  const b = new Uint8Array(256);
  for (let i = 0; i < 16; i++) {
    const e = s.ERR_get_error();
    if (e === 0n) break;
    s.ERR_error_string_n(e, b, 256n);
    out.push(new TextDecoder().decode(b.subarray(0, b.indexOf(0))));
  }
  s.ERR_clear_error();
  return out.join("; ");
}

/** A TLS context: one per KE client configuration or per KE server. */
export class TlsContext {
  readonly #s: LibSslSymbols;
  #ctx: Deno.PointerValue;
  readonly #role: "client" | "server";
  readonly #alpn: string;
  #callback: { close(): void } | null = null;

  private constructor(s: LibSslSymbols, ctx: Deno.PointerValue, opts: TlsContextOptions) {
    this.#s = s;
    this.#ctx = ctx;
    this.#role = opts.role;
    this.#alpn = opts.alpn;
  }

  /** Builds a context, or says why it cannot (unreadable certificate, key not matching...). */
  static create(
    opts: TlsContextOptions,
  ): { ok: true; context: TlsContext } | { ok: false; reason: string } {
    const lib = openLibSsl();
    if (!lib.ok) return lib;
    const s = lib.symbols;
    s.ERR_clear_error();
    const method = opts.role === "client" ? s.TLS_client_method() : s.TLS_server_method();
    const ctx = s.SSL_CTX_new(method);
    if (ctx === null) return { ok: false, reason: `SSL_CTX_new: ${opensslErrors(s)}` };
    const c = new TlsContext(s, ctx, opts);
    const fail = (what: string) => {
      const reason = `${what}: ${opensslErrors(s) || "failed"}`;
      c.close();
      return { ok: false as const, reason };
    };
    const min = TLS_VERSIONS[opts.minVersion];
    const max = TLS_VERSIONS[opts.maxVersion];
    if (min > max) {
      c.close();
      return { ok: false, reason: `mintls ${opts.minVersion} is above maxtls ${opts.maxVersion}` };
    }
    if (
      s.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, BigInt(min), null) !== 1n ||
      s.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, BigInt(max), null) !== 1n
    ) return fail("setting the TLS versions");
    // No session tickets: NTS-KE sessions are one exchange, never resumed.
    s.SSL_CTX_set_num_tickets(ctx, 0n);
    if (opts.role === "client") {
      const wire = alpnWire(opts.alpn);
      if (s.SSL_CTX_set_alpn_protos(ctx, wire, wire.length) !== 0) return fail("setting ALPN");
      if (opts.verify === false) {
        s.SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, null);
      } else {
        const loaded = opts.caFile
          ? s.SSL_CTX_load_verify_locations(ctx, cstr(opts.caFile), null)
          : s.SSL_CTX_set_default_verify_paths(ctx);
        if (loaded !== 1) {
          return fail(opts.caFile ? `loading CA file ${opts.caFile}` : "loading the system store");
        }
        s.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, null);
      }
    } else {
      if (!opts.certFile || !opts.keyFile) {
        c.close();
        return { ok: false, reason: "a TLS server needs a certificate and a key" };
      }
      if (s.SSL_CTX_use_certificate_chain_file(ctx, cstr(opts.certFile)) !== 1) {
        return fail(`loading certificate ${opts.certFile}`);
      }
      if (s.SSL_CTX_use_PrivateKey_file(ctx, cstr(opts.keyFile), SSL_FILETYPE_PEM) !== 1) {
        return fail(`loading key ${opts.keyFile}`);
      }
      if (s.SSL_CTX_check_private_key(ctx) !== 1) {
        return fail(`key ${opts.keyFile} does not match certificate ${opts.certFile}`);
      }
      const accepted = alpnWire(opts.alpn);
      // Runs inside SSL_do_handshake, on the thread that called it (this one).
      const callback = new Deno.UnsafeCallback(
        {
          parameters: ["pointer", "pointer", "pointer", "pointer", "u32", "pointer"],
          result: "i32",
        } as const,
        (_ssl, out, outLength, offered, offeredLength) => {
          const r = s.SSL_select_next_proto(
            out,
            outLength,
            accepted,
            accepted.length,
            offered,
            offeredLength,
          );
          // A client that does not offer the protocol is refused (RFC 8915 §4: ALPN required).
          return r === OPENSSL_NPN_NEGOTIATED ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_ALERT_FATAL;
        },
      );
      c.#callback = callback;
      s.SSL_CTX_set_alpn_select_cb(ctx, callback.pointer, null);
    }
    return { ok: true, context: c };
  }

  /** The role this context was built for. */
  get role(): "client" | "server" {
    return this.#role;
  }

  /** The ALPN protocol. */
  get alpn(): string {
    return this.#alpn;
  }

  /**
   * A new session. A client passes the server's name or address: a name is sent as SNI and
   * checked against the certificate's DNS names, an address against its IP addresses.
   */
  session(peerName: string | null = null): TlsSession {
    if (this.#ctx === null) throw new Error("TLS context is closed");
    return new TlsSession(this.#s, this.#ctx, this.#role, peerName);
  }

  /** Frees the context (sessions already made keep their own reference). */
  close(): void {
    if (this.#ctx !== null) this.#s.SSL_CTX_free(this.#ctx);
    this.#ctx = null;
    this.#callback?.close();
    this.#callback = null;
  }
}

/** What a step of a session did. */
export type TlsStep =
  /** Finished. */
  | { status: "done" }
  /** Needs bytes from the peer (after sending whatever {@link TlsSession.takeOutput} holds). */
  | { status: "want" }
  /** The peer closed the TLS session (close_notify). */
  | { status: "closed" }
  | { status: "error"; reason: string };

const LITERAL_V4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * One TLS session over two memory BIOs. Feed it what the socket received ({@link feed}), run
 * {@link handshake}, {@link read} or {@link write}, then send what {@link takeOutput} returns.
 */
export class TlsSession {
  readonly #s: LibSslSymbols;
  #ssl: Deno.PointerValue;
  readonly #rbio: Deno.PointerValue;
  readonly #wbio: Deno.PointerValue;
  readonly #out = new Uint8Array(16384);

  /** Use {@link TlsContext.session}. */
  constructor(
    s: LibSslSymbols,
    ctx: NonNullable<Deno.PointerValue>,
    role: "client" | "server",
    peerName: string | null,
  ) {
    this.#s = s;
    const ssl = s.SSL_new(ctx);
    if (ssl === null) throw new Error(`SSL_new: ${opensslErrors(s)}`);
    const rbio = s.BIO_new(s.BIO_s_mem());
    const wbio = s.BIO_new(s.BIO_s_mem());
    if (rbio === null || wbio === null) {
      if (rbio !== null) s.BIO_free(rbio);
      if (wbio !== null) s.BIO_free(wbio);
      s.SSL_free(ssl);
      throw new Error("BIO_new failed");
    }
    // An empty read BIO means "retry later", not end of file.
    s.BIO_ctrl(rbio, BIO_C_SET_BUF_MEM_EOF_RETURN, -1n, null);
    s.SSL_set_bio(ssl, rbio, wbio); // the session owns both BIOs from here on
    this.#ssl = ssl;
    this.#rbio = rbio;
    this.#wbio = wbio;
    if (role === "client") {
      s.SSL_set_connect_state(ssl);
      if (peerName !== null) {
        const literal = LITERAL_V4.test(peerName) || peerName.includes(":");
        // SNI carries host names only (RFC 6066 §3), never address literals.
        if (!literal) {
          s.SSL_ctrl(
            ssl,
            SSL_CTRL_SET_TLSEXT_HOSTNAME,
            BigInt(TLSEXT_NAMETYPE_HOST_NAME),
            cstr(peerName),
          );
        }
        // OpenSSL 3 checks a literal against the certificate's IP addresses, a name against
        // its DNS names.
        if (s.SSL_set1_host(ssl, cstr(peerName)) !== 1) {
          const why = opensslErrors(s);
          this.free();
          throw new Error(`SSL_set1_host(${peerName}): ${why}`);
        }
      }
    } else {
      s.SSL_set_accept_state(ssl);
    }
  }

  #live(): NonNullable<Deno.PointerValue> {
    if (this.#ssl === null) throw new Error("TLS session is freed");
    return this.#ssl;
  }

  /** Hands bytes received from the socket to the session. */
  feed(bytes: Uint8Array): void {
    this.#live();
    let at = 0;
    while (at < bytes.length) {
      const chunk = bytes.subarray(at);
      const n = this.#s.BIO_write(this.#rbio, chunk, chunk.length);
      if (n <= 0) throw new Error("BIO_write to a memory BIO failed");
      at += n;
    }
  }

  /** Bytes the session wants sent, or null when there are none. */
  takeOutput(): Uint8Array | null {
    this.#live();
    const pending = Number(this.#s.BIO_ctrl(this.#wbio, BIO_CTRL_PENDING, 0n, null));
    if (pending <= 0) return null;
    const out = new Uint8Array(pending);
    let at = 0;
    while (at < pending) {
      const n = this.#s.BIO_read(this.#wbio, this.#out, Math.min(this.#out.length, pending - at));
      if (n <= 0) break;
      out.set(this.#out.subarray(0, n), at);
      at += n;
    }
    return out.subarray(0, at);
  }

  #step(r: number, what: string): TlsStep {
    const e = this.#s.SSL_get_error(this.#live(), r);
    switch (e) {
      case SslError.WANT_READ:
      case SslError.WANT_WRITE:
        return { status: "want" };
      case SslError.ZERO_RETURN:
        return { status: "closed" };
      default: {
        const verify = this.verifyError();
        const detail = opensslErrors(this.#s);
        return {
          status: "error",
          reason: `${what}: ${verify !== null ? `certificate: ${verify}` : detail || `error ${e}`}`,
        };
      }
    }
  }

  /** Runs the handshake as far as the bytes fed so far allow. */
  handshake(): TlsStep {
    this.#s.ERR_clear_error();
    const r = this.#s.SSL_do_handshake(this.#live());
    return r === 1 ? { status: "done" } : this.#step(r, "TLS handshake");
  }

  /**
   * Decrypts application data into `buf`: the byte count, or a step ("want" when more bytes must
   * be fed first).
   */
  read(buf: Uint8Array): number | TlsStep {
    this.#s.ERR_clear_error();
    const n = this.#s.SSL_read(this.#live(), buf, buf.length);
    return n > 0 ? n : this.#step(n, "TLS read");
  }

  /** Encrypts `data` (the ciphertext then waits in {@link takeOutput}). */
  write(data: Uint8Array): TlsStep {
    this.#s.ERR_clear_error();
    if (data.length === 0) return { status: "done" };
    const n = this.#s.SSL_write(this.#live(), data, data.length);
    return n === data.length ? { status: "done" } : this.#step(n, "TLS write");
  }

  /** Queues a close_notify alert. */
  shutdown(): void {
    this.#s.ERR_clear_error();
    this.#s.SSL_shutdown(this.#live());
    this.#s.ERR_clear_error();
  }

  /** The protocol ALPN chose, or null. */
  alpn(): string | null {
    const p = new BigUint64Array(1);
    const l = new Uint32Array(1);
    this.#s.SSL_get0_alpn_selected(
      this.#live(),
      new Uint8Array(p.buffer),
      new Uint8Array(l.buffer),
    );
    const ptr = Deno.UnsafePointer.create(p[0]!);
    if (ptr === null || l[0] === 0) return null;
    const bytes = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, l[0]!));
    return new TextDecoder().decode(bytes.slice());
  }

  /** The server name the client sent (SNI), or null: on a server, after the handshake. */
  serverName(): string | null {
    const p = this.#s.SSL_get_servername(this.#live(), TLSEXT_NAMETYPE_HOST_NAME);
    return p === null ? null : new Deno.UnsafePointerView(p).getCString();
  }

  /** The negotiated protocol version ("TLSv1.3"). */
  version(): string {
    const p = this.#s.SSL_get_version(this.#live());
    return p === null ? "" : new Deno.UnsafePointerView(p).getCString();
  }

  /** Why the peer's certificate failed its checks, or null when it passed (or none was checked). */
  verifyError(): string | null {
    const code = this.#s.SSL_get_verify_result(this.#live());
    if (code === 0n) return null;
    const p = this.#s.X509_verify_cert_error_string(code);
    return p === null ? `verify error ${code}` : new Deno.UnsafePointerView(p).getCString();
  }

  /**
   * The RFC 5705 exporter (TLS 1.3: RFC 8446 §7.5) with `label` and `context`: `length` bytes, or
   * null when OpenSSL refuses (no finished handshake).
   */
  exportKeyingMaterial(label: string, context: Uint8Array, length: number): Uint8Array | null {
    const out = new Uint8Array(length);
    const lab = enc.encode(label);
    const ctx = context.length > 0 ? context : new Uint8Array(1);
    const ok = this.#s.SSL_export_keying_material(
      this.#live(),
      out,
      BigInt(length),
      lab,
      BigInt(lab.length),
      ctx,
      BigInt(context.length),
      1,
    );
    this.#s.ERR_clear_error();
    return ok === 1 ? out : null;
  }

  /** Frees the session and its BIOs. Safe to call twice. */
  free(): void {
    if (this.#ssl !== null) this.#s.SSL_free(this.#ssl);
    this.#ssl = null;
  }
}
