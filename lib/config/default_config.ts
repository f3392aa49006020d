// The configuration used when Horae runs without a configuration file: a pool client with
// Debian-style access restrictions (ntp.conf(5) syntax, embedded in the program).

/** File name shown in diagnostics for the embedded default. */
export const DEFAULT_CONFIG_NAME = "<default>";

/**
 * The embedded default configuration, in ntp.conf syntax.
 *
 * A client of the NTP pool that also answers time requests, with the restrictions Debian ships:
 * anyone may ask for the time (rate-limited, kiss-o'-death for abusers), nobody may change the
 * configuration, peer with us or query the server's state except from localhost. Offline the
 * pool name simply does not resolve and the daemon keeps serving as unsynchronised (leap 3),
 * which is what `deno task start` (observe-only) shows on a machine without network.
 *
 * Packagers should replace pool.ntp.org with their own vendor zone (NTP pool guidelines).
 */
export const DEFAULT_NTP_CONF =
  `# Horae built-in default configuration (used when no file is given).
# A client of the NTP pool; answers time requests, refuses everything else from the network.

pool pool.ntp.org iburst

# Everyone may ask for the time, rate-limited; no changes, no peering, no queries.
restrict default kod notrap nomodify nopeer noquery limited
# Localhost may do anything (ntpq/ntpdc from this host).
restrict 127.0.0.1
restrict ::1
# Servers found through the pool get the same treatment minus kod/limited.
restrict source notrap nomodify noquery
`;
