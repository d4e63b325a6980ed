/**
 * Go `os.FileMode` bits (what fsutil puts in `Stat.mode`) to and from POSIX `st_mode`.
 * Go keeps the file type in high bits and the permissions in the low 9; POSIX keeps
 * the type in `S_IFMT` and the special bits at 07000.
 * @module
 */

/** Go `os.FileMode` bits used on the wire (SPEC §5.2). */
export const GoMode = {
  dir: 0x80000000,
  append: 0x40000000,
  exclusive: 0x20000000,
  temporary: 0x10000000,
  symlink: 0x8000000,
  device: 0x4000000,
  namedPipe: 0x2000000,
  socket: 0x1000000,
  setuid: 0x800000,
  setgid: 0x400000,
  charDevice: 0x200000,
  sticky: 0x100000,
  irregular: 0x80000,
} as const;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;

const TYPE_BITS =
  GoMode.dir |
  GoMode.symlink |
  GoMode.device |
  GoMode.namedPipe |
  GoMode.socket |
  GoMode.charDevice |
  GoMode.irregular |
  GoMode.append |
  GoMode.exclusive |
  GoMode.temporary;

/**
 * The Go `FileMode` of a POSIX `st_mode`.
 *
 * @example
 * ```ts
 * goModeFromPosix(0o100644); // 0o644
 * goModeFromPosix(0o040755) === (0x80000000 | 0o755); // true
 * ```
 */
export function goModeFromPosix(mode: number): number {
  let out = mode & 0o777;
  if (mode & 0o4000) out |= GoMode.setuid;
  if (mode & 0o2000) out |= GoMode.setgid;
  if (mode & 0o1000) out |= GoMode.sticky;
  switch (mode & S_IFMT) {
    case S_IFDIR:
      out |= GoMode.dir;
      break;
    case S_IFLNK:
      out |= GoMode.symlink;
      break;
    case S_IFCHR:
      out |= GoMode.device | GoMode.charDevice;
      break;
    case S_IFBLK:
      out |= GoMode.device;
      break;
    case S_IFIFO:
      out |= GoMode.namedPipe;
      break;
    case S_IFSOCK:
      out |= GoMode.socket;
      break;
  }
  return out >>> 0;
}

/**
 * The POSIX `st_mode` of a Go `FileMode`, or `undefined` for combinations no file
 * can have (two types at once, append-only, temporary, irregular, socket).
 *
 * @example
 * ```ts
 * posixModeFromGo(0o644); // 0o100644
 * posixModeFromGo(0x80000000 | 0x8000000); // undefined (dir and symlink)
 * ```
 */
export function posixModeFromGo(mode: number): number | undefined {
  let out = mode & 0o777;
  if (mode & GoMode.setuid) out |= 0o4000;
  if (mode & GoMode.setgid) out |= 0o2000;
  if (mode & GoMode.sticky) out |= 0o1000;
  const unknownBits = (mode >>> 0) & ~(TYPE_BITS | GoMode.setuid | GoMode.setgid | GoMode.sticky | 0o777);
  if (unknownBits !== 0) return undefined;
  switch ((mode & TYPE_BITS) >>> 0) {
    case 0:
      return out | S_IFREG;
    case GoMode.dir:
      return out | S_IFDIR;
    case GoMode.symlink:
      return out | S_IFLNK;
    case GoMode.device | GoMode.charDevice:
      return out | S_IFCHR;
    case GoMode.device:
      return out | S_IFBLK;
    case GoMode.namedPipe:
      return out | S_IFIFO;
    default:
      return undefined;
  }
}
