/**
 * Aligned plain-text tables for terminal output (no colours: output is also piped).
 * @module
 */

/**
 * Renders rows under a header, columns padded to their widest cell.
 *
 * @example
 * ```ts
 * formatTable(["KEY", "SIZE"], [["ctx-1", "5 B"]]); // "KEY    SIZE\nctx-1  5 B\n"
 * ```
 */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[header, ...rows].map(line).join("\n")}\n`;
}
