/**
 * `.dockerignore` matching for the sender, with the same package and pattern handling
 * as the local transport's walk, so `push --exclude` and `sync --exclude` agree.
 * @module
 */
import dockerignore, { type Ignore } from "@balena/dockerignore";
import { FSCacheError } from "../../core/errors.ts";

type IgnoreFactory = (options?: { ignorecase?: boolean }) => Ignore;
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
 * Compiles `.dockerignore` patterns as Docker matches them: case-sensitively, the last
 * matching pattern deciding, blank ones dropped (comments are a matter of the file: see
 * `dockerignoreOf`). `undefined` when there are none. A pattern Docker refuses (a lone
 * `!`, an unclosed `[`, a trailing `\`) throws `ERR_INVALID_PATTERN` naming it.
 *
 * @example
 * ```ts
 * excludeMatcher(["*.log", "!keep.log"])?.ignores("a.log"); // true
 * ```
 */
export function excludeMatcher(patterns: readonly string[]): ExcludeMatcher | undefined {
  const kept = patterns.filter((p) => p.trim() !== "");
  if (kept.length === 0) return undefined;
  // The package matches case-insensitively unless told otherwise; Docker on Linux does not.
  const ignore = makeIgnore({ ignorecase: false });
  for (const pattern of kept) {
    try {
      checkPattern(pattern);
      // The package drops a pattern that starts with `#` as a comment; escaped, it is the
      // literal name Docker's matcher sees in it.
      ignore.add(pattern.startsWith("#") ? `\\${pattern}` : pattern);
      ignore.ignores("a"); // compiles what was added: a bad pattern throws here
    } catch (err) {
      throw new FSCacheError("ERR_INVALID_PATTERN", `bad exclude pattern ${JSON.stringify(pattern)}`, {
        path: pattern,
        cause: err,
      });
    }
  }
  return { ignores: (path) => ignore.ignores(path), hasExceptions: kept.some((p) => p.trim().startsWith("!")) };
}

/** What Docker's pattern matcher refuses and the package would quietly accept. */
function checkPattern(pattern: string): void {
  const body = pattern.trim();
  if (body === "!" || (body.startsWith("!") && body.slice(1).trim() === "")) {
    throw new Error("illegal exclusion pattern");
  }
  let escapes = 0;
  for (let i = body.length - 1; i >= 0 && body[i] === "\\"; i--) escapes++;
  if (escapes % 2 === 1) throw new Error("syntax error in pattern: it ends in an escape");
}
