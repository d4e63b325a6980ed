/**
 * The push client's own record of the directories it read, kept from one push of a
 * tree to the next: a directory whose listing key (`core/listing_key.ts`) is the
 * recorded one is walked from its recorded names instead of being read again. Reading
 * a directory costs ~30 µs here, more than a tenth of a no-op push of 10k files. The
 * record never leaves the client: the receiver gets the same STATs either way, and
 * every entry is still `lstat`ed (a file's content changes without its directory).
 * @module
 */
import type { FileStats } from "../../core/file_system.ts";
import { listingKeyOf } from "../../core/listing_key.ts";
import { compareWalkOrder } from "../../core/names.ts";

/**
 * The salt of the push client's keys. Its listings are a directory's names as read,
 * before any exclude: no walk option decides what they hold.
 */
const SALT = 0x7f3a_51c1;
const FORMAT = "fscache-source-listings";
const VERSION = 1;

interface Listing {
  key: number;
  names: readonly string[];
}

/**
 * Listings from the last push of a tree (possibly none), and those of the walk going on,
 * to be saved for the next. Pass it as `SendOptions.listings`.
 *
 * @example
 * ```ts
 * const listings = SourceListings.decode(savedText);
 * await sendDiffCopy(connection, { fs, root: "/home/me/app", listings });
 * save(listings.encode());
 * ```
 */
export class SourceListings {
  /** The last push's listings; none for a `new SourceListings()` (a first push). */
  #previous: ReadonlyMap<string, Listing> = new Map();
  readonly #current = new Map<string, Listing>();
  /** Directories of this walk whose recorded listing it kept as it was. */
  #kept = 0;

  /**
   * The listings {@linkcode encode} wrote; anything else (missing, cut short, from another
   * version, names that are not a directory's sorted names) gives none, never an error:
   * the walk then reads every directory, as without a record.
   */
  static decode(text: string | undefined): SourceListings {
    const listings = new SourceListings();
    if (text === undefined) return listings;
    try {
      listings.#previous = parse(JSON.parse(text));
    } catch {
      // no record
    }
    return listings;
  }

  /**
   * Forgets what an earlier walk recorded: a send made again (after a file changed while
   * it was sent) records its listings afresh, from the same record.
   */
  restart(): void {
    this.#current.clear();
    this.#kept = 0;
  }

  /**
   * The names of directory `rel` (walk-sorted), whose `lstat` gave `stats`, in a walk that
   * began at `walkStart`: the recorded ones when its key is the recorded key, else what
   * `read` gives. Either way they are recorded for the next push, unless the directory
   * gets no key (changed too recently, or no `ctime`).
   */
  list(rel: string, stats: FileStats, walkStart: number, read: () => string[]): string[] {
    const key = listingKeyOf(stats, SALT, walkStart);
    if (Number.isNaN(key)) return read();
    const had = this.#previous.get(rel);
    const keep = had !== undefined && had.key === key;
    if (keep) this.#kept++;
    const names = keep ? (had.names as string[]) : read();
    this.#current.set(rel, { key, names });
    return names;
  }

  /**
   * Whether this walk's listings differ from the record it began with: a directory was
   * read, got no key, or is gone. When they do not (a push that found no directory
   * changed), {@linkcode encode} would write the record again byte for byte.
   *
   * @example
   * ```ts
   * if (listings.changed) save(listings.encode());
   * ```
   */
  get changed(): boolean {
    return this.#kept !== this.#current.size || this.#kept !== this.#previous.size;
  }

  /**
   * The listings of this walk, as text for {@linkcode decode}: JSON (which keeps the
   * escaped bytes of names that are not UTF-8), each directory as its path, its key and
   * its names joined by `/`, which no name holds.
   */
  encode(): string {
    const dirs: (string | number)[] = [];
    for (const [rel, { key, names }] of this.#current) dirs.push(rel, key, names.join("/"));
    return JSON.stringify({ format: FORMAT, version: VERSION, dirs });
  }
}

/** Empty, `.` or `..` names, or a NUL: not what a directory listing gives. */
const NOT_NAMES = /(?:^|\/)\.{0,2}(?:\/|$)|\0/;
/** Characters whose UTF-16 order is not their UTF-8 order (surrogates and U+E000 on). */
const BEYOND_PLAIN_ORDER = /[\ud800-\uffff]/;

/**
 * The listings of a decoded record; throws at the first thing a walk could not trust.
 * Checked in bulk (a regular expression per directory, native string comparison for
 * the order): one at a time, the names of a 10k-file tree took ~15 ms here.
 */
function parse(value: unknown): Map<string, Listing> {
  const { format, version, dirs } = value as { format?: unknown; version?: unknown; dirs?: unknown };
  if (format !== FORMAT || version !== VERSION || !Array.isArray(dirs) || dirs.length % 3 !== 0) {
    throw new Error("not a listings record");
  }
  const out = new Map<string, Listing>();
  for (let i = 0; i < dirs.length; i += 3) {
    const rel: unknown = dirs[i];
    const key: unknown = dirs[i + 1];
    const joined: unknown = dirs[i + 2];
    if (typeof rel !== "string" || !Number.isSafeInteger(key) || typeof joined !== "string") {
      throw new Error("bad entry");
    }
    const names = joined === "" ? [] : joined.split("/");
    if (names.length > 0 && NOT_NAMES.test(joined)) throw new Error("bad name");
    // As the walk sorts them: a listing out of order would send STATs out of order.
    const plain = !BEYOND_PLAIN_ORDER.test(joined);
    for (let k = 1; k < names.length; k++) {
      const a = names[k - 1] as string;
      const b = names[k] as string;
      if (plain ? !(a < b) : compareWalkOrder(a, b) >= 0) throw new Error("names out of order");
    }
    out.set(rel, { key: key as number, names });
  }
  return out;
}
