// Counts a `deno test --junit-path` report for tools/run_tests.ts: an ignored test (declared with
// `ignore:`, a `<skipped/>` testcase) is counted as ignored, never as passed.

/** What a JUnit report says. */
export interface JunitCounts {
  passed: number;
  failed: number;
  ignored: number;
  /** Names of the failed tests. */
  failures: string[];
}

/** Counts the testcases of a JUnit report by outcome. */
export function countJunit(xml: string): JunitCounts {
  const counts: JunitCounts = { passed: 0, failed: 0, ignored: 0, failures: [] };
  for (
    const m of xml.matchAll(/<testcase\b[^>]*?name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)
  ) {
    const body = m[3] ?? "";
    if (/<failure\b|<error\b/.test(body)) {
      counts.failed++;
      counts.failures.push(unescapeXml(m[1]!));
    } else if (/<skipped\b/.test(body)) counts.ignored++;
    else counts.passed++;
  }
  return counts;
}

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}
