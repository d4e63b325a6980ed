/**
 * `.dockerignore` matching for the sender, with the same package and pattern handling
 * as the local transport's walk, so `push --exclude` and `sync --exclude` agree.
 * @module
 */
import dockerignore, { type Ignore } from "@balena/dockerignore";

type IgnoreFactory = () => Ignore;
// The package is CommonJS typed as an ES default export: take whichever the runtime hands over.
const makeIgnore = ((dockerignore as unknown as { default?: IgnoreFactory }).default ??
  dockerignore) as unknown as IgnoreFactory;

/** A compiled pattern list. */
export interface ExcludeMatcher {
  /** True when the relative `/`-separated path is excluded. */
  ignores(path: string): boolean;
  /** True when some pattern is a `!` exception (an excluded directory may hold included entries). */
  hasExceptions: boolean;
}

/**
 * Compiles `.dockerignore` patterns (blank lines and `#` comments dropped); `undefined`
 * when there are none.
 *
 * @example
 * ```ts
 * excludeMatcher(["*.log", "!keep.log"])?.ignores("a.log"); // true
 * ```
 */
export function excludeMatcher(patterns: readonly string[]): ExcludeMatcher | undefined {
  const kept = patterns.filter((p) => p.trim() !== "" && !p.startsWith("#"));
  if (kept.length === 0) return undefined;
  const ignore = makeIgnore().add(kept);
  return { ignores: (path) => ignore.ignores(path), hasExceptions: kept.some((p) => p.trim().startsWith("!")) };
}
