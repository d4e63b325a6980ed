/**
 * The hash tree (SPEC §4.3): path → entry checksum (and the stat it was synced
 * from) for every entry of a snapshot, with `dir:`/`file:` path checksums (§4.2).
 *
 * Stored as a trie of path components, so a change touches only the nodes on its
 * path: adding is O(depth), deleting a whole subtree is one unlink, and each
 * directory caches its `dir:` digest until something below it changes. Asking for a
 * directory's checksum therefore costs its own subtree once, never the whole tree.
 * @module
 */
import { hexPrefix, orderByPrefix } from "./checksum_order.ts";
import { FSCacheError } from "./errors.ts";
import { compareWalkOrder, encodeName } from "./names.ts";
import { cleanRelativePath, isBelow } from "./path.ts";
import type { ChangeKind, EntryStat, RecordedEntry, RecordedTree, Sha256Factory } from "./types.ts";

interface Node {
  entry?: RecordedEntry;
  children?: Map<string, Node>;
  /** Child names in byte order; dropped when a child is added or removed. */
  sorted?: string[];
  /** Cached `dir:` digest hex of this subtree; dropped when anything below changes. */
  digest?: string;
}

/** What a path is, as far as the tree knows. */
export type TreeEntryKind = "dir" | "file" | "unknown";

const CHECKSUM = /^[0-9a-f]{64}$/;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/**
 * A snapshot's recorded entries and their checksums.
 *
 * @example
 * ```ts
 * const tree = new HashTree(nodeSha256);
 * tree.apply("add", "dir", "6ef733e2…");
 * tree.apply("add", "dir/a", "6fbc54d9…");
 * tree.hash("dir"); // "dir:7b1b21eb…"
 * tree.apply("delete", "dir"); // removes dir/a too
 * ```
 */
export class HashTree implements RecordedTree {
  readonly #sha256: Sha256Factory;
  readonly #root: Node = {};
  #size = 0;

  constructor(sha256: Sha256Factory) {
    this.#sha256 = sha256;
  }

  /**
   * Builds a tree from entries given in strict walk order, as {@linkcode entries}
   * yields them and the codec stores them. Much cheaper than `apply` per entry: each
   * entry is attached to its parent found on the chain of enclosing directories (no
   * lookups from the root), and each directory's child order comes for free. Entries
   * whose parent has no entry of its own take the general path. Throws
   * `ERR_INVALID_PATH`/`ERR_INVALID_OPTION` like `apply`, and `ERR_INVALID_OPTION` for
   * entries out of order.
   *
   * @example
   * ```ts
   * const tree = HashTree.fromWalkOrder(nodeSha256, [["dir", { checksum: "6ef7…" }], ["dir/a", { checksum: "6fbc…" }]]);
   * ```
   */
  static fromWalkOrder(sha256: Sha256Factory, entries: Iterable<[path: string, entry: RecordedEntry]>): HashTree {
    const tree = new HashTree(sha256);
    // The entries enclosing the last one, outermost first (the root at the bottom).
    const chain: { path: string; node: Node }[] = [{ path: "", node: tree.#root }];
    for (const [path, entry] of entries) {
      let top = chain[chain.length - 1] as { path: string; node: Node };
      while (chain.length > 1 && !isBelow(path, top.path)) {
        chain.pop();
        top = chain[chain.length - 1] as { path: string; node: Node };
      }
      const name = top.path === "" ? path : path.slice(top.path.length + 1);
      const parent = top.node;
      if (!isPlainName(name) || parent.children?.has(name) || !CHECKSUM.test(entry.checksum)) {
        // A parent without an entry of its own, a bad path or checksum, or a repeat: `apply` sorts it out.
        if (parent.children?.has(name)) {
          throw new FSCacheError("ERR_INVALID_OPTION", `entry out of walk order: ${JSON.stringify(path)}`, { path });
        }
        tree.apply("add", path, entry.checksum, entry.stat);
        chain.length = 1;
        let node = tree.#root;
        for (const part of path.split("/")) {
          node = node.children?.get(part) as Node;
          chain.push({
            path: chain.length === 1 ? part : `${(chain[chain.length - 1] as { path: string }).path}/${part}`,
            node,
          });
        }
        continue;
      }
      const sorted = parent.sorted;
      if (sorted && sorted.length > 0 && compareWalkOrder(sorted[sorted.length - 1] as string, name) >= 0) {
        throw new FSCacheError("ERR_INVALID_OPTION", `entry out of walk order: ${JSON.stringify(path)}`, { path });
      }
      const node: Node = { entry: entry.stat === undefined ? { checksum: entry.checksum } : entry };
      if (!parent.children) {
        parent.children = new Map();
        parent.sorted = [];
      }
      parent.children.set(name, node);
      // Appended in order, so still sorted; a directory whose children came otherwise sorts on demand.
      parent.sorted?.push(name);
      tree.#size++;
      chain.push({ path, node });
    }
    return tree;
  }

  /** Number of entries (the root itself is never one). */
  get size(): number {
    return this.#size;
  }

  get(path: string): RecordedEntry | undefined {
    return this.#find(path)?.entry;
  }

  /**
   * Records a change reported by a transport: `add`/`modify` set the entry (a
   * checksum is required), `delete` removes it and everything below it.
   * `path` must be clean and relative (as `cleanRelativePath` returns it), not `.`.
   */
  apply(kind: ChangeKind, path: string, checksum?: string, stat?: EntryStat): void {
    validateChange(kind, path, checksum);
    if (kind === "delete") {
      this.#delete(path);
      return;
    }
    const entry: RecordedEntry = { checksum: checksum as string };
    if (stat !== undefined) entry.stat = { ...stat };
    this.#set(path, entry);
  }

  /** Every entry in SPEC §5.2 walk order (a directory, then its entries, then its next sibling). */
  *entries(): IterableIterator<[path: string, entry: RecordedEntry]> {
    const stack: [prefix: string, node: Node][] = [["", this.#root]];
    // Depth-first with siblings in byte order is exactly walk order: "foo" < "foo.2" as
    // names, and everything below "foo" comes before "foo.2".
    while (stack.length > 0) {
      const [prefix, node] = stack.pop() as [string, Node];
      if (node !== this.#root && node.entry) yield [prefix, node.entry];
      if (!node.children) continue;
      const names = sortedChildren(node);
      for (let i = names.length - 1; i >= 0; i--) {
        const name = names[i] as string;
        stack.push([prefix === "" ? name : `${prefix}/${name}`, node.children.get(name) as Node]);
      }
    }
  }

  /**
   * What `path` is: a directory (by its stat, or because entries lie below it), a
   * file, `unknown` (an entry without stat or children: an empty directory or a
   * file), or `undefined` when the tree has no such entry. `.` is always a directory.
   */
  kindOf(path: string): TreeEntryKind | undefined {
    const clean = cleanRelativePath(path);
    if (clean === ".") return "dir";
    const node = this.#find(clean);
    if (!node?.entry) return undefined;
    const mode = node.entry.stat?.mode;
    if (mode !== undefined) return (mode & S_IFMT) === S_IFDIR ? "dir" : "file";
    return node.children && node.children.size > 0 ? "dir" : "unknown";
  }

  /**
   * The SPEC §4.2 checksum of `path`: `file:<entry checksum>`, or for a directory
   * `dir:` + sha256 of the sorted, comma-joined checksums of it and everything below
   * (for `.`, without the root itself). `undefined` when the entry is missing. Pass
   * `kind` when {@linkcode kindOf} said `unknown` and the caller looked it up.
   */
  hash(path: string, kind?: "dir" | "file"): string | undefined {
    const clean = cleanRelativePath(path);
    const node = clean === "." ? this.#root : this.#find(clean);
    if (!node || (node !== this.#root && !node.entry)) return undefined;
    const resolved = kind ?? this.kindOf(clean);
    if (resolved === "file" || resolved === "unknown") return `file:${node.entry?.checksum}`;
    return `dir:${this.#digest(node)}`;
  }

  /**
   * Bytes the snapshot holds by SPEC §3.2 (regular-file sizes plus symlink-target
   * lengths), taken from the recorded stats so no walk is needed; `undefined` when it
   * cannot be exact from the tree alone: an entry without a stat, or a hard link (a
   * regular entry with `stat.linkname`, as the diff-copy receiver reports them), whose
   * inode may or may not still be shared with its target after later syncs.
   *
   * @example
   * ```ts
   * tree.contentSize(); // 10 for a 4-byte file plus a symlink to "target"
   * ```
   */
  contentSize(): number | undefined {
    let total = 0;
    let exact = true;
    /** Whether `node`'s subtree holds an entry; adds what its entries hold to `total`. */
    const visit = (node: Node): boolean => {
      let holds = false;
      if (node.children) for (const child of node.children.values()) holds = visit(child) || holds;
      if (node === this.#root) return holds;
      if (node.entry === undefined) {
        // A directory only implied by entries below it has no stat to go by; a node left
        // behind by deleted children, with no entry anywhere below, is no entry at all.
        if (holds) exact = false;
        return holds;
      }
      const stat = node.entry.stat;
      if (!stat) exact = false;
      else if ((stat.mode & S_IFMT) === S_IFREG) {
        if (stat.linkname !== undefined) exact = false;
        total += stat.size;
      } else if ((stat.mode & S_IFMT) === S_IFLNK) {
        total += encodeName(stat.linkname ?? "").length;
      }
      return true;
    };
    visit(this.#root);
    return exact ? total : undefined;
  }

  /** An independent copy (entries are copied, digests recomputed on demand). */
  clone(): HashTree {
    const copy = new HashTree(this.#sha256);
    for (const [path, entry] of this.entries()) copy.#set(path, structuredClone(entry));
    return copy;
  }

  #find(path: string): Node | undefined {
    let node: Node | undefined = this.#root;
    for (const part of path.split("/")) {
      node = node.children?.get(part);
      if (!node) return undefined;
    }
    return node;
  }

  #set(path: string, entry: RecordedEntry): void {
    let node = this.#root;
    node.digest = undefined;
    for (const part of path.split("/")) {
      node.children ??= new Map();
      let child = node.children.get(part);
      if (!child) {
        child = {};
        node.children.set(part, child);
        node.sorted = undefined;
      }
      node = child;
      node.digest = undefined;
    }
    if (!node.entry) this.#size++;
    node.entry = entry;
  }

  #delete(path: string): void {
    const parts = path.split("/");
    const last = parts.pop() as string;
    const chain: Node[] = [this.#root];
    for (const part of parts) {
      const next = (chain[chain.length - 1] as Node).children?.get(part);
      if (!next) return;
      chain.push(next);
    }
    const parent = chain[chain.length - 1] as Node;
    const victim = parent.children?.get(last);
    if (!victim) return;
    parent.children?.delete(last);
    parent.sorted = undefined;
    this.#size -= countEntries(victim);
    for (const node of chain) node.digest = undefined;
    // Directories only implied by what was below them go with it: left behind, they
    // would make an entry above them without a stat look like a directory.
    for (let i = chain.length - 1; i > 0; i--) {
      const node = chain[i] as Node;
      if (node.entry || (node.children && node.children.size > 0)) break;
      const above = chain[i - 1] as Node;
      above.children?.delete(parts[i - 1] as string);
      above.sorted = undefined;
    }
  }

  #digest(node: Node): string {
    if (node.digest !== undefined) return node.digest;
    const sums: string[] = [];
    collectChecksums(node, node !== this.#root, sums);
    const hash = this.#sha256();
    hash.update(joinSorted(sums));
    node.digest = hash.digest();
    return node.digest;
  }
}

/**
 * Throws unless a change is one {@linkcode HashTree.apply} accepts: a clean relative
 * path other than `.`, a known kind, and for `add`/`modify` a sha256 hex checksum.
 *
 * @example
 * ```ts
 * validateChange("add", "a/../b", "…"); // throws ERR_INVALID_PATH
 * ```
 */
export function validateChange(kind: ChangeKind, path: string, checksum?: string): void {
  if (typeof path !== "string" || path === "." || cleanRelativePath(path) !== path) {
    throw new FSCacheError("ERR_INVALID_PATH", `changed paths must be clean and relative: ${JSON.stringify(path)}`, {
      path,
    });
  }
  if (kind === "delete") return;
  if (kind !== "add" && kind !== "modify") {
    throw new FSCacheError("ERR_INVALID_OPTION", `unknown change kind ${JSON.stringify(kind)}`, { path });
  }
  if (typeof checksum !== "string" || !CHECKSUM.test(checksum)) {
    throw new FSCacheError("ERR_INVALID_OPTION", `${kind} of ${JSON.stringify(path)} needs a sha256 hex checksum`, {
      path,
    });
  }
}

/**
 * The checksums (64 lowercase hex digits each) sorted and comma-joined, as bytes.
 * Sorting 100k strings with the default comparator and joining them cost ~0.3 s; here
 * each checksum is keyed by its first 32 bits (plus its index, so the key is unique)
 * and the keys sorted as numbers, the rare equal prefixes settled by full comparison.
 */
function joinSorted(sums: string[]): Uint8Array {
  const n = sums.length;
  const out = new Uint8Array(Math.max(0, n * 65 - 1));
  const order = orderByPrefix(
    n,
    (i) => hexPrefix(sums[i] as string, 0),
    (a, b) => compareStrings(sums[a], sums[b]),
  );
  let o = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0) out[o++] = 0x2c;
    const sum = sums[order[i] as number] as string;
    for (let c = 0; c < 64; c++) out[o++] = sum.charCodeAt(c);
  }
  return out;
}

function compareStrings(a: string | undefined, b: string | undefined): number {
  return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
}

/** One clean path component. */
function isPlainName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/");
}

function sortedChildren(node: Node): string[] {
  node.sorted ??= [...(node.children?.keys() ?? [])].sort(compareWalkOrder);
  return node.sorted;
}

function collectChecksums(node: Node, includeSelf: boolean, out: string[]): void {
  if (includeSelf && node.entry) out.push(node.entry.checksum);
  if (!node.children) return;
  for (const child of node.children.values()) collectChecksums(child, true, out);
}

function countEntries(node: Node): number {
  let n = node.entry ? 1 : 0;
  if (node.children) for (const child of node.children.values()) n += countEntries(child);
  return n;
}
