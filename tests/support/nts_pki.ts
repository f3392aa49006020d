// Test certificates for the NTS interop tests, made with the openssl CLI in a temporary folder:
// a CA, a leaf for localhost / 127.0.0.1-3 / ::1 signed by it (rustls and chronyd want a CA and a
// separate leaf), a leaf that expired in 2020 (dated by `openssl ca`), and an unrelated CA.

import { sh } from "./peers.ts";

/** The files of a test PKI. */
export interface TestPki {
  dir: string;
  /** The CA clients trust. */
  ca: string;
  /** Leaf + CA chain, and its key: valid for localhost, 127.0.0.1 and ::1. */
  cert: string;
  key: string;
  /** A leaf signed by the same CA that expired on 31 January 2020. */
  expiredCert: string;
  expiredKey: string;
  /** A CA nobody's certificate is signed by. */
  otherCa: string;
}

function leafExt(dnsNames: readonly string[]): string {
  const dns = ["localhost", ...dnsNames].map((n) => `DNS:${n}`).join(",");
  return [
    "basicConstraints=CA:FALSE",
    "keyUsage=digitalSignature",
    "extendedKeyUsage=serverAuth",
    `subjectAltName=${dns},IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,IP:::1`,
  ].join("\n") + "\n";
}

function ecKeyArgs(): string[] {
  return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
}

/**
 * Makes the PKI in `dir` (needs the openssl CLI); the leaves also carry
 * `dnsNames`.
 */
export async function makeTestPki(dir: string, dnsNames: readonly string[] = []): Promise<TestPki> {
  const p = (f: string) => `${dir}/${f}`;
  await Deno.writeTextFile(p("leaf.ext"), leafExt(dnsNames));
  const req = ["openssl", "req"];
  await sh([
    ...req,
    "-x509",
    ...ecKeyArgs(),
    "-days",
    "30",
    "-subj",
    "/CN=horae-test-ca",
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.pem"),
  ]);
  await sh([
    ...req,
    "-x509",
    ...ecKeyArgs(),
    "-days",
    "30",
    "-subj",
    "/CN=other-ca",
    "-keyout",
    p("other.key"),
    "-out",
    p("other.pem"),
  ]);
  for (const name of ["leaf", "old"]) {
    await sh([
      ...req,
      ...ecKeyArgs(),
      "-subj",
      "/CN=localhost",
      "-keyout",
      p(`${name}.key`),
      "-out",
      p(`${name}.csr`),
    ]);
  }
  const sign = (csr: string, out: string, days: string) => [
    "openssl",
    "x509",
    "-req",
    "-in",
    p(csr),
    "-CA",
    p("ca.pem"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-days",
    days,
    "-extfile",
    p("leaf.ext"),
    "-out",
    p(out),
  ];
  await sh(sign("leaf.csr", "leaf.pem", "30"));
  // The expired leaf: `openssl ca` takes explicit validity dates (no clock games needed).
  await Deno.writeTextFile(p("index.txt"), "");
  await Deno.writeTextFile(
    p("ca.cnf"),
    [
      "[ca]",
      "default_ca = test",
      "[test]",
      `database = ${p("index.txt")}`,
      `new_certs_dir = ${dir}`,
      `certificate = ${p("ca.pem")}`,
      `private_key = ${p("ca.key")}`,
      "default_md = sha256",
      "policy = any",
      "x509_extensions = leaf",
      "rand_serial = yes",
      "[any]",
      "commonName = supplied",
      "[leaf]",
      ...leafExt(dnsNames).trim().split("\n"),
    ].join("\n") + "\n",
  );
  await sh([
    "openssl",
    "ca",
    "-batch",
    "-config",
    p("ca.cnf"),
    "-in",
    p("old.csr"),
    "-out",
    p("old.pem"),
    "-startdate",
    "20200101000000Z",
    "-enddate",
    "20200131000000Z",
    "-notext",
  ]);
  const ca = await Deno.readTextFile(p("ca.pem"));
  await Deno.writeTextFile(p("chain.pem"), (await Deno.readTextFile(p("leaf.pem"))) + ca);
  await Deno.writeTextFile(p("old-chain.pem"), (await Deno.readTextFile(p("old.pem"))) + ca);
  return {
    dir,
    ca: p("ca.pem"),
    cert: p("chain.pem"),
    key: p("leaf.key"),
    expiredCert: p("old-chain.pem"),
    expiredKey: p("old.key"),
    otherCa: p("other.pem"),
  };
}

/**
 * ntp.conf text for Horae serving NTS with `pki` (its `expired` leaf if asked), NTS-KE on
 * `kePort`, LOCAL at stratum 9 as its source, the cookie keys in `cookieFile` when one is given.
 */
export function ntsServerConf(
  pki: TestPki,
  kePort: number,
  opts: { cookieFile?: string; expired?: boolean } = {},
): string {
  return [
    "server 127.127.1.0",
    "fudge 127.127.1.0 stratum 9",
    "nts enable",
    `nts cert ${opts.expired ? pki.expiredCert : pki.cert}`,
    `nts key ${opts.expired ? pki.expiredKey : pki.key}`,
    ...(opts.cookieFile === undefined ? [] : [`nts cookie ${opts.cookieFile}`]),
    `nts port ${kePort}`,
  ].join("\n") + "\n";
}

/**
 * A test PKI made on first use and shared by every later call, in a temporary folder (named
 * with `prefix`) removed when the test process unloads: for test files whose tests all trust it.
 */
export function lazyTestPki(prefix: string): () => Promise<TestPki> {
  let made: Promise<TestPki> | null = null;
  return () => {
    made ??= (async () => {
      const dir = await Deno.makeTempDir({ prefix });
      globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
      return await makeTestPki(dir);
    })();
    return made;
  };
}
