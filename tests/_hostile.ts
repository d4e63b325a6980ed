/** A scripted (hostile) diff-copy sender for the receiver's hardening tests. */
import assert from "node:assert/strict";
import type { FileSystem } from "../core/file_system.ts";
import { decodePacket, type Packet, PacketType, packet, type Stat, stat } from "../transports/diffcopy/packet.ts";
import { encodeFrame } from "../transports/diffcopy/packet_writer.ts";
import { type ReceiveOptions, receiveDiffCopy } from "../transports/diffcopy/receiver.ts";
import { recordingUpdater } from "./_diffcopy.ts";

export const DIR = (0x80000000 | 0o755) >>> 0;
export const SYMLINK = 0x8000000 | 0o777;
export const FILE = 0o644;

export const S = (path: string, fields: Partial<Stat> = {}): Packet =>
  packet(PacketType.STAT, { stat: stat({ path, mode: FILE, ...fields }) });
export const END: Packet = packet(PacketType.STAT);
export const DATA = (id: number, text = ""): Packet =>
  packet(PacketType.DATA, { id, data: new TextEncoder().encode(text) });
export const FIN: Packet = packet(PacketType.FIN);

/** What a hostile run produced: the receiver's outcome and what it sent back. */
export interface HostileRun {
  error: unknown;
  replies: Packet[];
}

/**
 * Feeds `input` (packets or raw bytes) to a receiver writing into `dest`, then closes
 * the stream; collects the receiver's replies until it closes its side.
 */
export async function runHostile(
  fs: FileSystem,
  dest: string,
  input: (Packet | Uint8Array)[],
  options: ReceiveOptions = {},
): Promise<HostileRun> {
  const toReceiver = new TransformStream<Uint8Array, Uint8Array>();
  const fromReceiver = new TransformStream<Uint8Array, Uint8Array>();
  const writer = toReceiver.writable.getWriter();
  for (const item of input) void writer.write(item instanceof Uint8Array ? item : encodeFrame(item)).catch(() => {});
  void writer.close().catch(() => {});
  const collected = (async () => {
    const chunks: Uint8Array[] = [];
    const reader = fromReceiver.readable.getReader();
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    } catch {
      // the receiver aborted its side after its ERR: what arrived before counts
    }
    return chunks;
  })();
  let error: unknown;
  try {
    await receiveDiffCopy(
      { readable: toReceiver.readable, writable: fromReceiver.writable },
      { dest, fs, updater: recordingUpdater() },
      options,
    );
  } catch (err) {
    error = err;
  }
  const bytes = concat(await collected);
  const replies: Packet[] = [];
  for (let off = 0; off + 4 <= bytes.length; ) {
    const size = new DataView(bytes.buffer, bytes.byteOffset + off).getUint32(0);
    if (off + 4 + size > bytes.length) break;
    replies.push(decodePacket(bytes.subarray(off + 4, off + 4 + size)));
    off += 4 + size;
  }
  return { error, replies };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * A destination `root/dest` whose `sub` and `file` are symlinks to `root/outside` and
 * `root/outside/secret` and whose `hard` is a hard link to `root/outside/linked`, then
 * a stream that writes `sub/secret`, `file` and `hard`: the receiver must replace the
 * links, not write through them (nothing outside changes).
 */
export async function assertNoWriteThroughLinks(fs: FileSystem, root: string, options: ReceiveOptions = {}) {
  const dest = `${root}/dest`;
  fs.mkdirSync(dest);
  fs.mkdirSync(`${root}/outside`);
  fs.writeFileSync(`${root}/outside/secret`, "keep me");
  fs.symlinkSync("../outside", `${dest}/sub`);
  fs.symlinkSync("../outside/secret", `${dest}/file`);
  fs.writeFileSync(`${root}/outside/linked`, "keep me too");
  fs.linkSync(`${root}/outside/linked`, `${dest}/hard`);
  const before = snapshotOutside(fs, root, dest);
  const stream = [
    S("file", { size: 5 }),
    S("hard", { size: 5 }),
    S("sub", { mode: DIR }),
    S("sub/secret", { size: 5 }),
    END,
  ];
  const data = [DATA(0, "owned"), DATA(0), DATA(1, "owned"), DATA(1), DATA(3, "owned"), DATA(3), FIN];
  const { error } = await runHostile(fs, dest, [...stream, ...data], options);
  assert.equal(error, undefined);
  assert.deepEqual(snapshotOutside(fs, root, dest), before);
  assert.ok(fs.lstatSync(`${dest}/sub`).isDirectory());
  assert.equal(new TextDecoder().decode(fs.readFileSync(`${dest}/sub/secret`)), "owned");
  assert.ok(fs.lstatSync(`${dest}/file`).isFile());
  assert.equal(new TextDecoder().decode(fs.readFileSync(`${dest}/hard`)), "owned");
}

/** Every path below `root` except those below `except`, with file contents: to prove nothing changed there. */
export function snapshotOutside(fs: FileSystem, root: string, except: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = `${dir}/${name}`;
      if (full === except) continue;
      const st = fs.lstatSync(full);
      if (st.isDirectory()) {
        out.push(`${full}/ ${st.mode}`);
        walk(full);
      } else if (st.isSymbolicLink()) out.push(`${full} -> ${fs.readlinkSync(full)}`);
      else out.push(`${full} ${st.mode} ${new TextDecoder().decode(fs.readFileSync(full))}`);
    }
  };
  walk(root);
  return out;
}
