// Network Time Security (RFC 8915): the `nts` command in NTPsec's ntp.conf spelling (`nts enable`,
// `nts cert FILE`, `nts key FILE`, `nts cookie FILE`, `nts ca FILE`, `nts port N`,
// `nts mintls`/`maxtls`) and TOML [nts]. The `nts` flag of a server or pool line is in sources.ts.

import { option, section } from "./option_spec.ts";

/** TLS versions `nts mintls` / `maxtls` take (RFC 8915 §3 asks for 1.3 or later). */
export const NTS_TLS_VERSIONS = ["tls1.2", "tls1.3"] as const;

/** The TCP port of NTS-KE (RFC 8915 §4). */
export const NTS_KE_PORT = 4460;

/** The NTS settings (model `nts`). */
export const NTS_OPTIONS = [
  option({
    field: "enabled",
    ntpConf: "enable",
    toml: "enable",
    type: "flag",
    default: false,
    doc: "Run the NTS-KE server (needs cert and key) and answer NTS-protected NTP requests.",
    applied: true,
  }),
  option({
    field: "certFile",
    ntpConf: "cert",
    toml: "cert",
    type: "path",
    default: null,
    doc: "The NTS-KE server's certificate chain (PEM, leaf first).",
    applied: true,
  }),
  option({
    field: "keyFile",
    ntpConf: "key",
    toml: "key",
    type: "path",
    default: null,
    doc: "The private key of the NTS-KE server's certificate (PEM).",
    applied: true,
  }),
  option({
    field: "cookieFile",
    ntpConf: "cookie",
    toml: "cookie",
    type: "path",
    default: null,
    doc: "File of the server's cookie master keys, shared by every instance behind one name.",
    applied: true,
  }),
  option({
    field: "caFile",
    ntpConf: "ca",
    toml: "ca",
    type: "path",
    default: null,
    doc: "Certificates (PEM) the NTS-KE client trusts; none: the system's store.",
    applied: true,
  }),
  option({
    field: "port",
    ntpConf: "port",
    toml: "port",
    type: "int",
    range: { min: 1, max: 65535, outside: "ignore" },
    default: NTS_KE_PORT,
    doc: "TCP port of the NTS-KE server.",
    applied: true,
  }),
  option({
    field: "minTls",
    ntpConf: "mintls",
    toml: "mintls",
    type: "enum",
    values: NTS_TLS_VERSIONS,
    default: "tls1.3",
    doc: "Oldest TLS version NTS-KE accepts (RFC 8915 requires TLS 1.3).",
    applied: true,
  }),
  option({
    field: "maxTls",
    ntpConf: "maxtls",
    toml: "maxtls",
    type: "enum",
    values: NTS_TLS_VERSIONS,
    default: "tls1.3",
    doc: "Newest TLS version NTS-KE offers.",
    applied: true,
  }),
] as const;

/** Network Time Security. */
export const NTS_SECTION = section({
  id: "nts",
  title: "Network Time Security",
  doc: "NTS-KE over TLS 1.3 (RFC 8915): the server's certificate and keys, the client's trust.",
  group: "auth",
  model: "nts",
  toml: "nts",
  array: false,
  parts: [{ at: "", options: NTS_OPTIONS }],
  commands: [{
    keyword: "nts",
    syntax: "enable | cert FILE | key FILE | cookie FILE | ca FILE | port N | mintls V | maxtls V",
    doc: "Network Time Security settings (NTPsec's spelling); one or more per line.",
    form: "options",
    applied: true,
  }],
});
