// Test certificates for the NTS interop tests, made with the openssl CLI in a temporary folder:
// a CA, a leaf for localhost / 127.0.0.1-3 / ::1 signed by it (rustls and chronyd want a CA and a
// separate leaf), a leaf that expired in 2020 (signed under faketime), and an unrelated CA.

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
 * Makes the PKI in `dir` (needs openssl, and faketime for the expired leaf); the leaves also carry
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
  await sh(["faketime", "2020-01-01 00:00:00", ...sign("old.csr", "old.pem", "30")]);
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
