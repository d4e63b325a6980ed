/**
 * `@balena/dockerignore` for the CLI bundle, required when the first matcher is made:
 * the bundle's `require` of it at start resolved it through `node_modules` in every run
 * (2–3 ms of each sync and push), though most runs have no patterns. The CLI build
 * aliases the package to this module; everywhere else (Deno, browsers, the library)
 * the package is imported as it is.
 * @module
 */
import { createRequire } from "node:module";
import type { Ignore } from "@balena/dockerignore";

type Factory = (options?: { ignorecase?: boolean }) => Ignore;
let factory: Factory | undefined;

/**
 * The package's factory, loaded on the first call.
 *
 * @example
 * ```ts
 * dockerignore({ ignorecase: false }).add("*.log").ignores("a.log"); // true
 * ```
 */
export default function dockerignore(options?: { ignorecase?: boolean }): Ignore {
  if (!factory) {
    const loaded = createRequire(import.meta.url)("@balena/dockerignore") as Factory & { default?: Factory };
    factory = loaded.default ?? loaded;
  }
  return factory(options);
}
