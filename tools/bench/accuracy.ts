// `deno task bench:accuracy` (issue 18, item 3): Horae --observe and chronyd 4.3 -x side by side,
// clients of one chronyd server across a veth pair and a delaying relay (tools/bench/udp_relay.ts).
// OWNER: the bench:accuracy engineer of issue 18 (item 3: the real-kernel benchmark). Other
// engineers: please leave tools/bench/accuracy*.ts and udp_relay*.ts to that session.
// This first version only holds the shared metrics; the runner follows in the next commits.

export { type ErrorSummary, errorSummary, ratio, type Reading } from "./accuracy_metrics.ts";
