// "Did you mean ...?" for a mistyped keyword, option or key: the closest known word by edit
// distance, where a swap of two neighbouring letters counts as one edit (`ibrust` → `iburst`).

/** Edit distance with adjacent transpositions (optimal string alignment), capped at `max + 1`. */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
      row.push(d);
    }
    rows.push(row);
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/** How many edits a word of this length may be from a suggestion. */
function tolerance(length: number): number {
  return length <= 4 ? 1 : length <= 8 ? 2 : 3;
}

/**
 * The known word closest to `word` (case-insensitive), or null when none is close enough to be a
 * likely typo. Ties go to the earlier candidate.
 */
export function closestWord(word: string, candidates: Iterable<string>): string | null {
  const w = word.toLowerCase();
  const max = tolerance(w.length);
  let best: string | null = null;
  let bestDistance = max + 1;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase(), max);
    if (d > 0 && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` for the closest candidate, or "" when there is none. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const c = closestWord(word, candidates);
  return c === null ? "" : ` (did you mean "${c}"?)`;
}
