/**
 * The receiver's file transfers (SPEC §5.2): REQs for the files that changed, DATA
 * written while it arrives and hashed, each file committed and reported. Given
 * {@linkcode WriteThreads}, a large change set's small files are gathered whole and
 * written by other threads in batches (a first push of 10k files spent most of the
 * receiving thread on open, write, chmod, utimes and hashing), while this thread goes
 * on reading; big files are always written here, as they arrive.
 * @module
 */
import { startEntryChecksum } from "../../core/entry_checksum.ts";
import { FSCacheError } from "../../core/errors.ts";
import type { FileSystem } from "../../core/file_system.ts";
import type { Sha256, Sha256Factory } from "../../core/types.ts";
import { fileTime } from "../file_time.ts";
import { headerOf } from "./entry_info.ts";
import type { ReceivedFileBatch, WriteThreads } from "./file_batches.ts";
import type { PacketReader } from "./framing.ts";
import { type Packet, PacketType, packet } from "./packet.ts";
import type { PacketWriter } from "./packet_writer.ts";
import type { FileTarget, SafeTree } from "./safe_tree.ts";
import type { IncomingEntry } from "./stat_validator.ts";

/** A file to receive. */
export interface FileTransfer {
  entry: IncomingEntry;
  existed: boolean;
}

/** What the file transfers need from their receive session. */
export interface FileReceiverContext {
  reader: PacketReader;
  writer: PacketWriter;
  tree: SafeTree;
  /** The receive's own id, which its batches carry (see `ReceivedFileBatch.session`). */
  session: string;
  sha256: Sha256Factory;
  maxFilesInFlight?: number;
  maxBytesInFlight?: number;
  writeThreads?: WriteThreads;
  /** Told each file once it is in place, with its entry checksum. */
  done(transfer: FileTransfer, checksum: string): void;
  /** Told the content bytes of each DATA chunk. */
  received(bytes: number): void;
  /** The error for a packet that is not DATA. */
  unexpected(p: Packet | undefined, expected: string): FSCacheError;
}

/** Every field set from the start, in one order: one object shape for all (100k tasks). */
interface FileTask extends FileTransfer {
  received: number;
  /** To be written by another thread: its content is gathered here, into `arena` at `offset`. */
  threaded: boolean;
  arena: Arena | undefined;
  offset: number;
  /** Where the content is being written, once opened; kept until it is in place. */
  target: FileTarget | undefined;
  /** `target.fd` is still open. */
  open: boolean;
  hash: Sha256 | undefined;
}

/**
 * A buffer files are gathered into and handed to a writing thread as one batch, once
 * it is full (sealed) and every file placed in it is complete.
 */
interface Arena {
  data: Uint8Array;
  used: number;
  tasks: FileTask[];
  incomplete: number;
  sealed: boolean;
}

/** Change sets from this many files (or bytes) on are written by other threads. */
const THREADED_FILES = 512;
const THREADED_BYTES = 16 << 20;
/** Files up to this size are gathered whole and written by another thread. */
const THREADED_FILE_BYTES = 1 << 20;
const BATCH_FILES = 256;
const ARENA_BYTES = 4 << 20;
const BATCHES_PER_LANE = 2;
/**
 * Arenas alive at most beyond those being written: a file not yet complete pins its
 * arena, and a sender that leaves many files unfinished must not pin many. Past this,
 * files are written here as they arrive.
 */
const PINNED_ARENAS = 4;

/** The most arenas one receive holds at once: what a shared pool keeps at most. */
function maxArenas(threads: WriteThreads): number {
  return threads.lanes * BATCHES_PER_LANE + PINNED_ARENAS;
}

function protocolError(message: string, path?: string): FSCacheError {
  return new FSCacheError("ERR_PROTOCOL", message, path === undefined ? {} : { path });
}

/**
 * Receives the content of `files`, requesting them within the in-flight limits.
 *
 * @example
 * ```ts
 * const files = new FileReceiver(context);
 * try { await files.receive(changed); } catch (err) { await files.settle(); files.discard(); throw err; }
 * ```
 */
export class FileReceiver {
  readonly #cx: FileReceiverContext;
  readonly #fs: FileSystem;
  readonly #active = new Map<number, FileTask>();
  #arena: Arena | undefined;
  /** Arenas handed back by the writing threads, to be filled again, where `WriteThreads.spare` is not. */
  readonly #free: Uint8Array[] = [];
  #alive = 0;
  readonly #writing = new Set<Promise<void>>();
  #failure: unknown;

  constructor(context: FileReceiverContext) {
    this.#cx = context;
    this.#fs = context.tree.fs;
  }

  /**
   * Requests files while fewer than the limits are in flight, REQs batched into one
   * write per round; DATA already arrived is applied without waiting, and the next REQs
   * go out before the receiver waits for more.
   */
  async receive(files: FileTransfer[]): Promise<void> {
    const { reader, writer } = this.#cx;
    const maxFiles = Math.max(1, this.#cx.maxFilesInFlight ?? 256);
    const maxBytes = Math.max(0, this.#cx.maxBytesInFlight ?? 16 * 1024 * 1024);
    const threads = this.#threadsFor(files);
    let next = 0;
    let bytesInFlight = 0;
    const request = () => {
      // top up only once half the window is free: one REQ write per many files, not per file
      if (this.#active.size * 2 > maxFiles || bytesInFlight * 2 > maxBytes) return;
      while (
        next < files.length &&
        this.#active.size < maxFiles &&
        (this.#active.size === 0 || bytesInFlight < maxBytes)
      ) {
        const transfer = files[next++] as FileTransfer;
        const task: FileTask = {
          entry: transfer.entry,
          existed: transfer.existed,
          received: 0,
          threaded: false,
          arena: undefined,
          offset: 0,
          target: undefined,
          open: false,
          hash: undefined,
        };
        if (threads && transfer.entry.stat.size <= THREADED_FILE_BYTES) task.threaded = true;
        this.#active.set(transfer.entry.id, task);
        bytesInFlight += transfer.entry.stat.size;
        // Its DATA is a round trip away at least: time to bring a snapshot file's inode in.
        if (transfer.existed) this.#cx.tree.warm(transfer.entry.path);
        writer.queue(packet(PacketType.REQ, { id: transfer.entry.id }));
      }
      writer.flushSoon();
    };
    request();
    while (this.#active.size > 0) {
      if (this.#failure !== undefined) throw this.#failure;
      let p = reader.nextBuffered();
      if (p === undefined) {
        request();
        // about to wait: what is gathered goes to an idle thread meanwhile
        const arena = this.#arena;
        if (threads && arena && arena.incomplete === 0 && this.#writing.size < threads.lanes) {
          this.#seal(arena, threads);
        }
        p = await reader.next();
      }
      if (p?.type !== PacketType.DATA) throw this.#cx.unexpected(p, "DATA");
      const task = this.#active.get(p.id);
      if (!task) throw protocolError(`DATA for unknown or unrequested id ${p.id}`);
      if (task.threaded && !task.arena) await this.#place(task, threads as WriteThreads);
      if (p.data.length > 0) {
        this.#chunk(task, p.data);
        continue;
      }
      this.#active.delete(p.id);
      bytesInFlight -= task.entry.stat.size;
      if (task.arena) this.#gathered(task, threads as WriteThreads);
      else this.#finish(task);
      // Topped up here too, not only before waiting: when a whole window's DATA was
      // already buffered, the loop drained it without ever waiting, and the files after
      // the first window were never requested.
      request();
    }
    if (threads && this.#arena) this.#seal(this.#arena, threads);
    await this.settle();
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Waits for every batch still being written (after a failure too: it must not race a repair). */
  async settle(): Promise<void> {
    while (this.#writing.size > 0) await Promise.allSettled([...this.#writing]);
  }

  /**
   * Removes what transfers cut short were writing: temporary files, and files begun or
   * overwritten in place (neither the old content nor the new).
   */
  discard(): void {
    for (const { target, open } of this.#active.values()) {
      if (target !== undefined) this.#cx.tree.abandonFile(target, open);
    }
    this.#active.clear();
    this.#arena = undefined;
  }

  #threadsFor(files: FileTransfer[]): WriteThreads | undefined {
    const threads = this.#cx.writeThreads;
    if (!threads || threads.lanes < 1 || !threads.accepts(this.#fs)) return undefined;
    let bytes = 0;
    for (const { entry } of files) bytes += entry.stat.size;
    const enough =
      files.length >= (threads.minFiles ?? THREADED_FILES) || bytes >= (threads.minBytes ?? THREADED_BYTES);
    return enough && files.length > 0 ? threads : undefined;
  }

  #chunk(task: FileTask, data: Uint8Array): void {
    const { entry } = task;
    if (task.received + data.length > entry.stat.size) {
      throw protocolError(`more data than the declared ${entry.stat.size} bytes`, entry.path);
    }
    if (task.arena) task.arena.data.set(data, (task.offset as number) + task.received);
    else {
      this.#cx.tree.write(task.target ?? this.#open(task), data);
      (task.hash as Sha256).update(data);
    }
    task.received += data.length;
    this.#cx.received(data.length);
  }

  #checkSize(task: FileTask): void {
    if (task.received !== task.entry.stat.size) {
      throw protocolError(`received ${task.received} of the declared ${task.entry.stat.size} bytes`, task.entry.path);
    }
  }

  /**
   * Gives a file its place in the current arena, starting another when it is full:
   * within the bound of batches being written (waiting for one), and of arenas pinned by
   * unfinished files (else the file is written here after all).
   */
  async #place(task: FileTask, threads: WriteThreads): Promise<void> {
    const size = task.entry.stat.size;
    let arena = this.#arena;
    if (arena && (arena.used + size > arena.data.length || arena.tasks.length >= BATCH_FILES)) {
      this.#seal(arena, threads);
      arena = undefined;
    }
    if (!arena) {
      while (this.#alive >= maxArenas(threads)) {
        if (this.#writing.size === 0) {
          task.threaded = false;
          return;
        }
        await Promise.race(this.#writing);
      }
      if (this.#failure !== undefined) throw this.#failure;
      this.#alive++;
      const data = (threads.spare ?? this.#free).pop() ?? new Uint8Array(ARENA_BYTES);
      arena = { data, used: 0, tasks: [], incomplete: 0, sealed: false };
      this.#arena = arena;
    }
    task.arena = arena;
    task.offset = arena.used;
    arena.used += size;
    arena.tasks.push(task);
    arena.incomplete++;
  }

  /** A complete file: its arena goes to a thread once sealed and complete. */
  #gathered(task: FileTask, threads: WriteThreads): void {
    this.#checkSize(task);
    const arena = task.arena as Arena;
    arena.incomplete--;
    if (arena.sealed && arena.incomplete === 0) this.#write(arena, threads);
  }

  #seal(arena: Arena, threads: WriteThreads): void {
    arena.sealed = true;
    if (this.#arena === arena) this.#arena = undefined;
    if (arena.incomplete === 0) this.#write(arena, threads);
  }

  #write(arena: Arena, threads: WriteThreads): void {
    const tasks = arena.tasks;
    const batch: ReceivedFileBatch = {
      dest: this.#cx.tree.dest,
      session: this.#cx.session,
      paths: [],
      modes: [],
      modTimes: [],
      existed: [],
      headers: [],
      data: arena.data,
      offsets: [],
      sizes: [],
    };
    for (const { entry, existed, offset } of tasks) {
      batch.paths.push(entry.path);
      batch.modes.push(entry.mode);
      batch.modTimes.push(entry.stat.modTime);
      batch.existed.push(existed);
      batch.headers.push(headerOf(entry)!);
      batch.offsets.push(offset);
      batch.sizes.push(entry.stat.size);
    }
    const writing: Promise<void> = threads.write(batch).then(
      ({ sums, data }) => {
        this.#writing.delete(writing);
        this.#alive--;
        const free = threads.spare ?? this.#free;
        if (free.length < maxArenas(threads) && data.length === ARENA_BYTES) free.push(data);
        try {
          for (let i = 0; i < tasks.length; i++) this.#cx.done(tasks[i] as FileTask, sums[i] as string);
        } catch (err) {
          this.#failure ??= err;
        }
      },
      (err) => {
        this.#writing.delete(writing);
        this.#alive--;
        this.#failure ??= err;
      },
    );
    this.#writing.add(writing);
  }

  /**
   * Opens where a file's content goes ({@linkcode SafeTree.openFile}: in place unless
   * something other than a plain file is there). Content cut off midway is no risk: the
   * transfer fails, what was being written is removed, the snapshot stays stale, and the
   * next receive compares against the disk.
   */
  #open(task: FileTask): FileTarget {
    const target = this.#cx.tree.openFile(task.entry.path, task.existed, task.entry.stat.size, task.entry.mode);
    task.target = target;
    task.open = true;
    task.hash = startEntryChecksum(this.#cx.sha256, headerOf(task.entry)!);
    return target;
  }

  #finish(task: FileTask): void {
    const { entry } = task;
    this.#checkSize(task);
    const target = task.target ?? this.#open(task);
    // Closed by finishFile even when it fails: must not be closed twice.
    task.open = false;
    this.#cx.tree.finishFile(target, entry.path, task.received, entry.mode, fileTime(entry.stat.modTime));
    task.target = undefined;
    this.#cx.done(task, (task.hash as Sha256).digest());
  }
}
