/**
 * The two members of Node's `path` that `@balena/dockerignore` (the `.dockerignore`
 * matcher the diff-copy sender uses) needs, for browser bundles: `npm run build:browser`
 * aliases `path` to this file. Browsers have only POSIX-style paths here.
 * @module
 */

/** The path separator: always `/`. */
export const sep = "/";

/**
 * POSIX `path.normalize`: collapses `//`, `.` and `..` segments.
 *
 * @example
 * ```ts
 * normalize("a//b/../c/."); // "a/c"
 * ```
 */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else out.push(part);
  }
  const joined = out.join("/");
  const trailing = path.endsWith("/") && joined !== "" ? "/" : "";
  if (absolute) return `/${joined}${trailing}`;
  if (joined === "") return path.endsWith("/") ? "./" : ".";
  return `${joined}${trailing}`;
}
