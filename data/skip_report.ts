// The warning for skipped images: a summary line, then each file and why, up to a limit (a
// folder of thousands of bad files should not flood the terminal), then how many more.

/** Entries listed in a skip warning before "... and N more". */
export const SKIP_LIST_LIMIT = 10;

/** `summary`, then one indented line per entry up to `limit`, then the count of the rest. */
export function skipWarning(
  summary: string,
  entries: readonly string[],
  more = "",
  limit = SKIP_LIST_LIMIT,
): string {
  const lines = [summary, ...entries.slice(0, limit).map((e) => `  ${e}`)];
  if (entries.length > limit) lines.push(`  ... and ${entries.length - limit} more${more}`);
  return lines.join("\n");
}
