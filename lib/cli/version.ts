// Horae's version: what `horae --version` and `ntpd --version` print and the daemon logs at start.

/** Horae's version. */
export const HORAE_VERSION = "0.1.0";
